#!/bin/sh
# Makes `preserve mount` work on this machine: the fuse-native addon links against
# libfuse.so.2, which Debian ships in the libfuse2 package (it coexists with fuse3; the
# `fuse` package, which adds fusermount for non-root users, would replace fuse3, so it is
# not installed here: as root, mount and umount need no helper).
# With --test-tools it also installs rsync, which test/mount.test.ts uses.
# Runs from `npm test` (the pretest script) and may be run by hand. Does nothing when
# everything is already present; only root can install, so others get a hint instead.
set -eu

packages=""
# ldconfig lives in /sbin, which is not on every user's PATH.
if ! { ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -q 'libfuse\.so\.2 '; then
  packages=" libfuse2"
fi
if [ "${1:-}" = "--test-tools" ] && ! command -v rsync >/dev/null 2>&1; then
  packages="$packages rsync"
fi
[ -z "$packages" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-fuse: please install:$packages (Debian/Ubuntu: apt-get install$packages)" >&2
  # Outside CI a missing library only disables `preserve mount`; in CI it is an error.
  [ -n "${CI:-}" ] && exit 1
  exit 0
fi

echo "setup-fuse: installing$packages" >&2
export DEBIAN_FRONTEND=noninteractive
# Install first; a fresh machine has no package lists yet, so update only when needed.
apt-get install -y -q --no-install-recommends $packages >/dev/null 2>&1 \
  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $packages >/dev/null; }
