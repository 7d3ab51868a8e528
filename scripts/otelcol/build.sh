#!/usr/bin/env bash
# Builds the OpenTelemetry Collector described by builder-config.yaml with
# the Collector's builder, caches the binary, and prints its path on
# standard output (everything else goes to standard error).
#
# The cache directory is named after a hash of the manifest and the builder
# version, so a second run prints the path at once and editing the manifest
# builds anew. A first build downloads the components from the Go module
# proxy and takes a few minutes.
#
# Usage: scripts/otelcol/build.sh [--cached]
#
# With --cached, it only prints the path of a binary already built, and
# fails if there is none.
set -euo pipefail

builder_version=v0.161.0
here=$(cd "$(dirname "$0")" && pwd)
manifest=$here/builder-config.yaml
name=otelcol-trace2x

sha256() { if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi; }
hash=$( { cat "$manifest"; echo "builder $builder_version"; } | sha256 | cut -c1-16)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/trace2x
dir=$cache_root/otelcol-$hash
bin=$dir/$name

if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
if [ "${1:-}" = "--cached" ]; then
	echo "no Collector built for this manifest in $dir; run $0" >&2
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

work=$(mktemp -d "$cache_root/otelcol-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The builder takes its output directory from the manifest; give it a copy
# that names the scratch directory, leaving the committed manifest clean.
awk -v out="$work/dist" '{ print } /^dist:$/ { print "  output_path: " out }' "$manifest" >"$work/manifest.yaml"

echo "building the OpenTelemetry Collector ($builder_version) into $dir; this takes a few minutes the first time" >&2
start=$(date +%s)
# go run pkg@version builds the builder outside any module, so the
# caller's working directory does not matter.
(cd "$work" && GOFLAGS= go run "go.opentelemetry.io/collector/cmd/builder@$builder_version" \
	--config="$work/manifest.yaml" >&2)

mkdir -p "$dir"
mv "$work/dist/$name" "$bin.tmp"
mv "$bin.tmp" "$bin" # atomic: a concurrent reader sees the whole binary or none
echo "built $bin in $(($(date +%s) - start))s" >&2
echo "$bin"
