#!/usr/bin/env bash
# Builds Jaeger (the v2 binary, an OpenTelemetry Collector with Jaeger's
# storage and query service) from the Go module proxy, caches it, and
# prints its path on standard output (everything else goes to standard
# error). The end-to-end test of `trace2x otlp` pushes to it and reads the
# traces back through Jaeger's query API, as its UI does.
#
# A second run prints the path at once. A first build downloads Jaeger's
# modules and takes a few minutes.
#
# Usage: scripts/jaeger/build.sh [--cached]
#
# With --cached, it only prints the path of a binary already built, and
# fails if there is none.
set -euo pipefail

version=v1.76.0
cached=
if [ "${1:-}" = "--cached" ]; then
	cached=1
fi

cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/trace2x
dir=$cache_root/jaeger-$version
bin=$dir/jaeger

if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
if [ -n "$cached" ]; then
	echo "no Jaeger built in $dir; run $0" >&2
	exit 1
fi
mkdir -p "$cache_root"

# Two test runs may start at once; one builds, the other waits for it.
if command -v flock >/dev/null; then
	exec 9>"$dir.lock"
	flock 9
	if [ -x "$bin" ]; then
		echo "$bin"
		exit 0
	fi
fi

work=$(mktemp -d "$cache_root/jaeger-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "building Jaeger $version into $dir; this takes a few minutes the first time" >&2
start=$(date +%s)
# A module of its own, outside this repository's, so that Jaeger builds
# with the versions its own go.mod asks for.
(
	cd "$work"
	export GOFLAGS=-mod=mod
	go mod init jaegerbuild >/dev/null 2>&1
	go get "github.com/jaegertracing/jaeger/cmd/jaeger@$version" >&2
	go build -o "$work/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger >&2
)

mkdir -p "$dir"
mv "$work/jaeger" "$bin.tmp"
mv "$bin.tmp" "$bin" # atomic: a concurrent reader sees the whole binary or none
echo "built $bin in $(($(date +%s) - start))s" >&2
echo "$bin"
