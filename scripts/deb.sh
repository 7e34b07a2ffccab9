#!/usr/bin/env bash
# Builds the Debian package postgresql-15-compute from debian/ (make deb):
#   scripts/deb.sh [OUTDIR [COMMIT]]
# The source is copied into OUTDIR/compute-<version>/ (the checkout's files,
# or `git archive COMMIT` with this checkout's debian/ directory and its
# changelog cut to that commit's version) and built there with
# dpkg-buildpackage, so the .deb lands in OUTDIR (default build/deb) and
# nothing outside it is touched. DEB_BUILD_OPTIONS=nocheck skips the
# build-time regression run (dh_pgxs_test).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build/deb}")
commit=${2:-}
mkdir -p "$out"

if [ -n "$commit" ]; then
	version=$(git show "$commit:compute.control" | sed -n "s/^default_version = '\(.*\)'/\1/p")
else
	version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" compute.control)
fi
src="$out/compute-$version"
rm -rf "$src"
mkdir -p "$src"
if [ -n "$commit" ]; then
	git archive "$commit" | tar -x -C "$src"
	rm -rf "$src/debian"
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Tracked and new files as they are in the checkout, not build outputs.
	git ls-files -co --exclude-standard -z | grep -zv '^debian/' |
		xargs -0 cp --parents -t "$src" 2>/dev/null || true
else
	tar -c --exclude=./build --exclude=./debian --exclude='*.o' --exclude='*.so' . | tar -x -C "$src"
fi
cp -r debian "$src/debian"
# The changelog from this version's entry down: its version is the package's.
awk -v v="$version" '$0 ~ "^compute \\(" v "\\)" {on = 1} on' debian/changelog >"$src/debian/changelog"
[ -s "$src/debian/changelog" ] || { echo "deb: debian/changelog has no entry for $version" >&2; exit 1; }

echo "deb: building postgresql-15-compute $version in $src"
(cd "$src" && dpkg-buildpackage -b -us -uc -j"$(nproc)" >"$out/build-$version.log" 2>&1) || {
	tail -n 60 "$out/build-$version.log"
	echo "deb: build failed (log: $out/build-$version.log)" >&2
	exit 1
}
grep -E '^(### |test |ok |not ok |#? *All [0-9]+ tests)' "$out/build-$version.log" | grep -v '^###' || true
rm -rf "$src"
ls "$out"/postgresql-15-compute_"$version"_*.deb
