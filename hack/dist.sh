#!/usr/bin/env bash
# Builds the release archives: `make dist VERSION=vX.Y.Z` calls this with the Makefile's LDFLAGS.
#
# Environment: VERSION (required, vX.Y.Z), LDFLAGS (the version stamp; -s -w strip), DIST (output
# directory, default dist), PLATFORMS (default: the five krew platforms), GO (default go),
# SOURCE_DATE_EPOCH (time of every archive entry; default: the commit's time, so a rebuild of the same
# commit gives the same archives and checksums).
set -euo pipefail

cd "$(dirname "$0")/.."
: "${VERSION:?VERSION is empty: run make dist VERSION=vX.Y.Z}"
: "${LDFLAGS:?LDFLAGS is empty: run this through make dist, which passes the version stamp}"
GO=${GO:-go}
DIST=${DIST:-dist}
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

case "$VERSION" in
v[0-9]*) ;;
*) echo "dist: VERSION=$VERSION does not look like vX.Y.Z; krew needs a semantic version with a leading v" >&2; exit 1 ;;
esac

rm -rf "$DIST/build"
mkdir -p "$DIST/build"
rm -f "$DIST"/kubectl-sdc_*.tar.gz "$DIST"/kubectl-sdc_*.zip "$DIST/checksums.txt"

build() {
	local os=${1%/*} arch=${1#*/} exe=kubectl-sdc
	[ "$os" = windows ] && exe=kubectl-sdc.exe
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$GO" build -trimpath -buildvcs=false -ldflags "$LDFLAGS" \
		-o "$DIST/build/${os}_${arch}/$exe" ./cmd/kubectl-sdc
	echo "built $os/$arch"
}
export -f build
export GO DIST LDFLAGS

# Two builds at a time: the compiler already uses every core, but each link is mostly one core, so
# pairing them keeps both cores busy without thrashing memory.
printf '%s\n' $PLATFORMS | xargs -P 2 -I{} bash -c 'build {}'

"$GO" run ./hack/distpack -version "$VERSION" -dir "$DIST" -mtime "$SOURCE_DATE_EPOCH" \
	-license LICENSE -helper hack/kubectl_complete-sdc -helper-windows hack/kubectl_complete-sdc.cmd \
	$PLATFORMS
rm -rf "$DIST/build"
