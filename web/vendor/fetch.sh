#!/bin/sh
# Re-fetches the vendored JavaScript libraries at their pinned versions from the npm registry (npm pack: a tarball,
# no install, no scripts run) and keeps only the files the console's bundle uses, with their licences.
# Run from anywhere: web/vendor/fetch.sh. Then `make web` rebuilds web/dist.
set -eu
PREACT_VERSION=11.2.0

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "preact@$PREACT_VERSION" >/dev/null && tar xzf "preact-$PREACT_VERSION.tgz")
rm -rf "$here/preact"
mkdir -p "$here/preact/dist" "$here/preact/hooks/dist" "$here/preact/jsx-runtime/dist"
cp "$tmp/package/LICENSE" "$tmp/package/package.json" "$here/preact/"
cp "$tmp/package/dist/preact.mjs" "$here/preact/dist/"
cp "$tmp/package/hooks/package.json" "$here/preact/hooks/"
cp "$tmp/package/hooks/dist/hooks.mjs" "$here/preact/hooks/dist/"
cp "$tmp/package/jsx-runtime/package.json" "$here/preact/jsx-runtime/"
cp "$tmp/package/jsx-runtime/dist/jsxRuntime.mjs" "$here/preact/jsx-runtime/dist/"
echo "vendored preact $PREACT_VERSION into $here/preact"
