#!/bin/sh
# Runs the tests of the packages that read traces and write the outputs
# as a 32-bit ARM program, under qemu-arm (Debian's qemu-user): an int has
# 32 bits there, and the flight recorder runs inside programs built for
# such machines. Short mode; the test binaries are built here and run
# from each package's directory, as go test runs them.
#
#   bash scripts/test-32bit.sh          # skips when qemu-arm is missing
#   CI=true bash scripts/test-32bit.sh  # fails instead
set -eu
cd "$(dirname "$0")/.."
if ! command -v qemu-arm >/dev/null; then
	if [ "${CI:-}" = true ]; then
		echo "test-32bit: qemu-arm is missing (Debian's qemu-user)" >&2
		exit 1
	fi
	echo "test-32bit: skipped: no qemu-arm (apt-get install qemu-user)" >&2
	exit 0
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
status=0
for pkg in mapping stats capture flight internal/tracefile internal/mmu internal/gotable \
	convert/perfetto convert/chromejson convert/otel convert/pprof; do
	name=$(echo "$pkg" | tr / _)
	GOOS=linux GOARCH=arm GOARM=7 go test -c -o "$bin/$name.test" "./$pkg"
	if (cd "$pkg" && qemu-arm "$bin/$name.test" -test.short -test.count=1 -test.timeout=15m >"$bin/$name.log" 2>&1); then
		echo "ok   $pkg (linux/arm)"
	else
		echo "FAIL $pkg (linux/arm)"
		tail -50 "$bin/$name.log"
		status=1
	fi
done
exit $status
