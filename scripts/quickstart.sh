#!/usr/bin/env bash
# A first backup and restore: makes a key, backs up FOLDER (default /usr/share/doc) to a
# backend under ./quickstart/, lists it, verifies it, restores it and compares the result
# with the source; then, where FUSE can be used, mounts the archive and compares the
# mount with the source too. Run after `npm install`:  scripts/quickstart.sh [FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
source_folder=${1:-/usr/share/doc}
work=$PWD/quickstart
preserve=$PWD/bin/preserve
[ -f dist/src/cli/main.js ] || npm run build
mkdir -p "$work"
export PRESERVE_KEYFILE=$work/key PRESERVE_BACKEND=$work/backend PRESERVE_CACHE_DIR=$work/cache
[ -f "$PRESERVE_KEYFILE" ] || "$preserve" keygen
name="quickstart-$(date +%Y%m%d-%H%M%S)"
"$preserve" create "$name" "$source_folder"
"$preserve" list
"$preserve" verify "$name"
rm -rf "$work/restored"
"$preserve" restore "$name" "$work/restored"

same_as_source() { diff -r --no-dereference "$source_folder" "$1" >/dev/null; }
if ! same_as_source "$work/restored"; then
  echo "quickstart: FAIL — the restored copy differs from $source_folder" >&2
  exit 1
fi
echo "quickstart: restore matches $source_folder byte for byte"

# The mount needs root (or FUSE set up for users) and libfuse2, which setup-fuse.sh installs.
if [ "$(id -u)" = 0 ] && [ -e /dev/fuse ] && sh scripts/setup-fuse.sh; then
  mountpoint=$work/mnt
  mkdir -p "$mountpoint"
  "$preserve" mount "$name" "$mountpoint" &
  mount_pid=$!
  trap 'kill -INT $mount_pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do mountpoint -q "$mountpoint" && break; sleep 0.1; done
  if ! same_as_source "$mountpoint"; then
    echo "quickstart: FAIL — the mounted archive differs from $source_folder" >&2
    exit 1
  fi
  kill -INT "$mount_pid" && wait "$mount_pid"
  trap - EXIT
  echo "quickstart: the mounted archive matches $source_folder too"
else
  echo "quickstart: skipping the mount (needs root and /dev/fuse)"
fi
echo "quickstart: PASS"
