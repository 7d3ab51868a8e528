#!/usr/bin/env bash
# Regenerates the sample execution traces in testdata/ from the programs in
# testdata/gen. Run from the repository root:
#
#	bash testdata/generate.sh
#
# Needs Go, gcc (for the cgo scenario) and access to the Go module proxy,
# from which the go command fetches the older toolchains named below.
# The traces record real timings, so they differ from run to run; their
# names and what they exercise do not.
set -euo pipefail

# Toolchains for the older trace format versions: the newest patch release
# of each minor version.
GO122=go1.22.12
GO123=go1.23.12
GO124=go1.24.13
GO125=go1.25.14
# And the newest release, which writes the Go 1.26 format.
GO127=go1.27.3
# Go 1.26: the local go command if it is a 1.26 release, else this one.
GO126_FALLBACK=go1.26.8

max_size=$((1 << 20)) # per trace

testdata=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gen=$testdata/gen
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT

case $(cd "$gen" && GOTOOLCHAIN=local go env GOVERSION) in
go1.26 | go1.26.*) GO126=local ;;
*) GO126=$GO126_FALLBACK ;;
esac

# check_toolchain TOOLCHAIN MINOR: fails unless TOOLCHAIN is a goMINOR release.
check_toolchain() {
	local v
	v=$(cd "$gen" && GOTOOLCHAIN=$1 go env GOVERSION)
	case $v in
	"go$2" | "go$2".*) ;;
	*)
		echo "toolchain $1 is $v, want go$2.x" >&2
		exit 1
		;;
	esac
}

# produce FILE COMMAND...: runs COMMAND, which writes the trace FILE, and
# prints the trace's name and size. The size of a trace varies from run to
# run (for example, the runtime's sweeper can yield thousands of times more
# in one run than in another), so an oversized trace is made again, up to
# three times in all, before giving up.
produce() {
	local file=$1 size attempt
	shift
	for attempt in 1 2 3; do
		"$@"
		size=$(wc -c <"$file")
		size=${size//[[:space:]]/}
		if ((size == 0)); then
			echo "$(basename "$file") is empty" >&2
			exit 1
		fi
		if ((size <= max_size)); then
			printf '%-40s %8d bytes\n' "$(basename "$file")" "$size"
			return
		fi
		echo "$(basename "$file") is $size bytes, over $max_size (attempt $attempt)" >&2
	done
	exit 1
}

# record SCENARIO MINOR TOOLCHAIN [NAME [ENV...]]: builds gen/SCENARIO with
# TOOLCHAIN and runs it with the environment ENV to write NAME.goMINOR.trace
# (NAME defaults to SCENARIO).
record() {
	local scenario=$1 minor=$2 toolchain=$3 name=${4:-$1}
	shift $(($# < 4 ? $# : 4))
	local exe=$bin/$scenario.go$minor
	local out=$testdata/$name.go$minor.trace
	local cgo=0
	if [[ $scenario == cgo ]]; then
		cgo=1
	fi
	if [[ ! -x $exe ]]; then
		# -trimpath: the stacks name files by module path, not where the
		# repository happens to be checked out.
		(cd "$gen" && GOTOOLCHAIN=$toolchain CGO_ENABLED=$cgo go build -trimpath -o "$exe" "./$scenario")
	fi
	produce "$out" env "$@" "$exe" -o "$out"
}

check_toolchain "$GO122" 1.22
check_toolchain "$GO123" 1.23
check_toolchain "$GO124" 1.24
check_toolchain "$GO125" 1.25
check_toolchain "$GO126" 1.26
check_toolchain "$GO127" 1.27

# The generators must keep building with every toolchain, with and without cgo.
for toolchain in "$GO122" "$GO123" "$GO124" "$GO125" "$GO126" "$GO127"; do
	(cd "$gen" && GOTOOLCHAIN=$toolchain CGO_ENABLED=1 go vet ./...)
done
(cd "$gen" && GOTOOLCHAIN=$GO126 CGO_ENABLED=0 go vet ./...)

record annotations 1.26 "$GO126"
record flightrecorder 1.26 "$GO126"
record frsubtasks 1.26 "$GO126"
record openstartend 1.26 "$GO126"
record blocking 1.26 "$GO126"
record gc 1.26 "$GO126"
record gomaxprocs 1.26 "$GO126"
record cgo 1.26 "$GO126"
record cpuprofile 1.26 "$GO126"
record iterpull 1.26 "$GO126"
record pprofhttp 1.26 "$GO126"
record oddstrings 1.26 "$GO126"

out=$testdata/gotest.go1.26.trace
gotest() {
	(cd "$gen" && GOTOOLCHAIN=$GO126 CGO_ENABLED=0 go test -trimpath -count=1 -trace="$out" ./gotest >/dev/null)
}
produce "$out" gotest

record mixed 1.22 "$GO122"
record mixed 1.23 "$GO123"
record mixed 1.24 "$GO124"
record mixed 1.25 "$GO125"
record mixed 1.26 "$GO126"
record mixed 1.27 "$GO127"
record mixed 1.26 "$GO126" allocfree GODEBUG=traceallocfree=1

total=$(cat "$testdata"/*.trace | wc -c)
total=${total//[[:space:]]/}
printf '%-40s %8d bytes\n' total "$total"
if ((total > 8 * max_size)); then
	echo "traces add up to more than $((8 * max_size)) bytes" >&2
	exit 1
fi
