#!/usr/bin/env bash
# Checks the analytics schema and every insight query on a current ClickHouse engine: chdb (npm), which runs
# ClickHouse in-process. The same tests that hold Query to the hand-computed figures and to the in-memory reference
# on Debian's 18.16 run here against chdb (TestCurrentEngine in analytics/insights).
#
# Usage: deploy/clickhouse/check-current.sh [go test flags…]
# Environment: CHDB_DIR (where chdb is installed; default ~/.cache/switchboard/chdb), CHDB_VERSION (default 3.4.0).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${CHDB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard/chdb}"
version="${CHDB_VERSION:-3.4.0}"

command -v node >/dev/null || { echo "check-current.sh: node (18 or later) is needed for chdb" >&2; exit 1; }
installed="$(node -p "try { require('$dir/node_modules/chdb/package.json').version } catch { '' }" 2>/dev/null || true)"
if [ "$installed" != "$version" ]; then
	echo "check-current.sh: installing chdb $version into $dir (about 550 MB)" >&2
	mkdir -p "$dir"
	(cd "$dir" && npm install --no-audit --no-fund --silent "chdb@$version" >&2) ||
		(sleep 2 && cd "$dir" && npm install --no-audit --no-fund --silent "chdb@$version" >&2)
fi

cd "$root"
SWITCHBOARD_CHDB_DIR="$dir" exec go test -count=1 -run '^TestCurrentEngine$' -v "$@" ./analytics/insights/
