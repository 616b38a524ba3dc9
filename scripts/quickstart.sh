#!/usr/bin/env bash
# A first backup and restore: makes a key, backs up FOLDER (default /usr/share/doc) to a
# backend under ./quickstart/, lists it, verifies it, restores it and compares the result
# with the source. Run after `npm install`:  scripts/quickstart.sh [FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
source_folder=${1:-/usr/share/doc}
work=$PWD/quickstart
preserve=$PWD/bin/preserve
[ -f dist/src/cli/main.js ] || npm run build
mkdir -p "$work"
export PRESERVE_KEYFILE=$work/key PRESERVE_BACKEND=$work/backend
[ -f "$PRESERVE_KEYFILE" ] || "$preserve" keygen
name="quickstart-$(date +%Y%m%d-%H%M%S)"
"$preserve" create "$name" "$source_folder"
"$preserve" list
"$preserve" verify "$name"
rm -rf "$work/restored"
"$preserve" restore "$name" "$work/restored"
if diff -r --no-dereference "$source_folder" "$work/restored" >/dev/null; then
  echo "quickstart: PASS — $source_folder restored byte for byte into $work/restored"
else
  echo "quickstart: FAIL — the restored copy differs from $source_folder" >&2
  exit 1
fi
