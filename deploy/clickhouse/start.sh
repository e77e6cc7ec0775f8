#!/usr/bin/env bash
# Runs a private ClickHouse server for Switchboard's tests and local run: Debian's clickhouse-server (18.16) with the
# project's own config (config.xml.tmpl, users.xml.tmpl next to this script), everything under one directory, listening
# on 127.0.0.1 only. See docs/clickhouse.md for why it is configured this way.
#
# Usage:
#   start.sh DIR [TCP_PORT [HTTP_PORT]]         install if missing, write the config, start in the background,
#                                               wait for /ping, print the server's pid (default ports 9000, 8123)
#   start.sh start DIR [TCP_PORT [HTTP_PORT]]   the same
#   start.sh install                            only install clickhouse-server and clickhouse-client if missing
#   start.sh config DIR TCP_PORT HTTP_PORT      only write DIR/config.xml and DIR/users.xml
#   start.sh stop DIR                           SIGTERM the server started in DIR and wait until it is gone
#
# The pid is also written to DIR/clickhouse-server.pid. Starting a DIR whose server is already up prints its pid.
# Environment: CLICKHOUSE_READY_TIMEOUT (seconds to wait for /ping, default 30).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "clickhouse/start.sh: $*" >&2; exit 1; }

# apt_retry runs apt-get once more when it fails: another apt run cleaning the cache at the same moment makes one
# attempt fail (docs/clickhouse.md).
apt_retry() {
	local sudo=()
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || die "clickhouse-server is missing and installing it needs root (or sudo)"
		sudo=(sudo -n)
	fi
	local cmd=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@")
	"${cmd[@]}" || { sleep 2; "${cmd[@]}"; }
}

install() {
	command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null && return 0
	# Parallel test packages may all find the server missing: one installs, the others wait for it.
	exec 9>"${TMPDIR:-/tmp}/switchboard-clickhouse-install.lock"
	flock 9
	if ! command -v clickhouse-server >/dev/null || ! command -v clickhouse-client >/dev/null; then
		echo "clickhouse/start.sh: installing clickhouse-server and clickhouse-client with apt-get" >&2
		apt_retry update -qq >&2
		apt_retry install -y -qq --no-install-recommends clickhouse-server clickhouse-client >&2
	fi
	flock -u 9
	command -v clickhouse-server >/dev/null || die "clickhouse-server is still missing after apt-get install"
}

config() {
	local dir="$1" tcp="$2" http="$3"
	[[ "$tcp" =~ ^[0-9]+$ && "$http" =~ ^[0-9]+$ ]] || die "ports must be numbers: tcp=$tcp http=$http"
	mkdir -p "$dir"/{data,tmp,user_files,format_schemas,log}
	dir="$(cd "$dir" && pwd)"
	local esc="${dir//&/\\&}"
	sed -e "s|@DIR@|$esc|g" -e "s|@TCP_PORT@|$tcp|g" -e "s|@HTTP_PORT@|$http|g" \
		"$here/config.xml.tmpl" >"$dir/config.xml"
	cp "$here/users.xml.tmpl" "$dir/users.xml"
}

ping() { curl -fsS --max-time 1 "http://127.0.0.1:$1/ping" 2>/dev/null | grep -q '^Ok\.'; }

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

start() {
	local dir="$1" tcp="${2:-9000}" http="${3:-8123}"
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	local pidfile="$dir/clickhouse-server.pid" pid=""
	if [ -f "$pidfile" ]; then
		pid="$(cat "$pidfile")"
		if alive "$pid" && ping "$http"; then
			echo "$pid"
			return 0
		fi
	fi
	install
	config "$dir" "$tcp" "$http"
	# setsid: the server is not in the caller's process group, so a Ctrl-C meant for `make` reaches it only through
	# the caller's own SIGTERM, after which it shuts down cleanly.
	setsid clickhouse-server --config-file="$dir/config.xml" >>"$dir/log/stdout.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$pidfile"
	local deadline=$((SECONDS + ${CLICKHOUSE_READY_TIMEOUT:-30}))
	until ping "$http"; do
		if ! alive "$pid"; then
			tail -n 20 "$dir/log/clickhouse-server.err.log" "$dir/log/stdout.log" >&2 2>/dev/null || true
			die "clickhouse-server exited during start (ports tcp=$tcp http=$http in use?)"
		fi
		[ "$SECONDS" -lt "$deadline" ] || die "clickhouse-server did not answer /ping on port $http in time"
		sleep 0.05
	done
	echo "$pid"
}

stop() {
	local dir="$1" pidfile="$1/clickhouse-server.pid" pid
	[ -f "$pidfile" ] || return 0
	pid="$(cat "$pidfile")"
	if alive "$pid"; then
		kill -TERM "$pid"
		local deadline=$((SECONDS + 60))
		while alive "$pid"; do
			[ "$SECONDS" -lt "$deadline" ] || { kill -KILL "$pid" 2>/dev/null || true; break; }
			sleep 0.05
		done
	fi
	rm -f "$pidfile"
}

case "${1:-}" in
install) install ;;
config)
	[ $# -eq 4 ] || die "usage: start.sh config DIR TCP_PORT HTTP_PORT"
	config "$2" "$3" "$4"
	;;
start)
	[ $# -ge 2 ] || die "usage: start.sh start DIR [TCP_PORT [HTTP_PORT]]"
	shift
	start "$@"
	;;
stop)
	[ $# -eq 2 ] || die "usage: start.sh stop DIR"
	stop "$2"
	;;
"" | -h | --help)
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
	[ -n "${1:-}" ] || exit 2
	;;
*) start "$@" ;;
esac
