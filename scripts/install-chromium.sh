#!/bin/sh
# Installs Debian's chromium, which the browser test of the Chrome JSON
# output (convert/chromejson) drives, unless it is there already. Quiet and
# idempotent; CI runs it before the tests.
set -eu
if [ -x /usr/bin/chromium ]; then
	exit 0
fi
sudo=
if [ "$(id -u)" != 0 ]; then
	sudo=sudo
fi
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
