#!/bin/sh
# Installs what the backend tests and scripts/bench-backends need that npm cannot provide:
# OpenSSH's server (the SFTP tests start their own sshd on a loopback port with throwaway
# keys; the system's sshd service is neither configured nor started). The S3 test server
# (s3rver) is an npm devDependency. Runs from `npm test` (pretest) and from the test set-up
# when sshd is missing; does nothing when everything is present. Only root can install.
set -eu

[ -x /usr/sbin/sshd ] && exit 0
packages="openssh-server"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-test-servers: please install: $packages (Debian/Ubuntu: apt-get install $packages)" >&2
  exit 1
fi
echo "setup-test-servers: installing $packages" >&2
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101 keeps the package from starting the system's sshd service; tests start their own.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1; fi
status=0
apt-get install -y -q --no-install-recommends $packages >/dev/null 2>&1 \
  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $packages >/dev/null; } || status=$?
[ -n "$made_policy" ] && rm -f "$policy"
exit $status
