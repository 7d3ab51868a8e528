#!/usr/bin/env bash
# Builds the OpenTelemetry Collector described by a builder manifest
# (builder-config.yaml unless another is given) with the Collector's
# builder, caches the binary, and prints its path on standard output
# (everything else goes to standard error).
#
# The cache directory is named after a hash of the manifest and the builder
# version, so a second run prints the path at once and editing the manifest
# builds anew. A first build downloads the components from the Go module
# proxy and takes a few minutes.
#
# A manifest may build components from this checkout: ${TRACE2X_ROOT} in
# it stands for the repository's directory. The hash then covers the Go
# files of this repository that those components are built from, so a
# change to them builds anew.
#
# Usage: scripts/otelcol/build.sh [--cached] [MANIFEST]
#
# With --cached, it only prints the path of a binary already built, and
# fails if there is none.
set -euo pipefail

builder_version=v0.161.0
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cached=
if [ "${1:-}" = "--cached" ]; then
	cached=1
	shift
fi
manifest=$(cd "$(dirname "${1:-$here/builder-config.yaml}")" && pwd)/$(basename "${1:-builder-config.yaml}")
name=$(awk '$1 == "name:" { print $2; exit }' "$manifest")
if [ -z "$name" ]; then
	echo "$manifest: no dist name" >&2
	exit 1
fi

sha256() { if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi; }
# local_sources lists the Go files (tests aside) and go.mod files of this
# repository that the manifest's local components are built from.
local_sources() {
	local mods
	mods=$(sed -n 's/^ *path: *"\{0,1\}\${TRACE2X_ROOT}\/\([^"]*\)"\{0,1\} *$/\1/p' "$manifest")
	for m in $mods; do
		(cd "$root/$m" && GOFLAGS= go list -deps -f '{{if not .Standard}}{{.Dir}}{{end}}' ./...) |
			while read -r d; do
				case $d in "$root"/*) echo "$d" ;; esac
			done
		echo "$root/$m"
	done | sort -u | while read -r d; do
		find "$d" -maxdepth 1 \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) | sort
	done
	echo "$root/go.mod"
	echo "$root/go.sum"
}
hash=$( {
	cat "$manifest"
	echo "builder $builder_version"
	if grep -q '${TRACE2X_ROOT}' "$manifest"; then
		local_sources | while read -r f; do
			echo "${f#"$root"/}"
			cat "$f"
		done
	fi
} | sha256 | cut -c1-16)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/trace2x
dir=$cache_root/otelcol-$hash
bin=$dir/$name

if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
if [ -n "$cached" ]; then
	echo "no Collector built for $manifest in $dir; run $0 $manifest" >&2
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
# that names the scratch directory and this checkout, leaving the
# committed manifest clean.
awk -v out="$work/dist" -v root="$root" '{ gsub(/\$\{TRACE2X_ROOT\}/, root); print } /^dist:$/ { print "  output_path: " out }' "$manifest" >"$work/manifest.yaml"

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
