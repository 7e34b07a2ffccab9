#!/usr/bin/env bash
# The Debian package, proven by installing it (issue 13):
# 1. builds postgresql-15-compute from this checkout (scripts/deb.sh) and,
#    with the same debian/ directory, from the previous release (commit
#    1001288, version 1.1.0), and prints the new package's `dpkg -c`;
# 2. removes what `make install` put into PostgreSQL 15 (compute.so, the
#    control file and the scripts) and installs the 1.1.0 package with
#    `dpkg -i`; a cluster gets CREATE EXTENSION compute and jobs in every
#    status;
# 3. upgrades to the new package with `dpkg -i` while that cluster runs, then
#    ALTER EXTENSION compute UPDATE: same jobs, new version, and the new
#    functions work on the old rows;
# 4. runs the regression suite (the Makefile's REGRESS, test/sql and
#    expected/, the `suite` of scripts/lib.sh) on a throwaway instance of the
#    installation, which now holds the package's files, and the package's own
#    autopkgtest (debian/tests/installcheck: pg_buildext installcheck);
# 5. removes the package with `dpkg -r`: nothing of compute is left in
#    PostgreSQL's directories and the server no longer offers the extension;
# 6. puts the source build back (`make install`, from RESTORE_FROM, by
#    default this checkout), as `make test` expects it, whatever happened.
#
# With PG_CONFIG pointing at a private installation (scripts/lib.sh,
# private_install), everything happens there instead: dpkg --root with a
# dpkg database of its own, so the system is not touched (the autopkgtest,
# which tests what the system's dpkg has installed, is then left out).
# Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD
. scripts/lib.sh
bash scripts/deps.sh base package || exit 1

previous_commit=1001288
pkg=postgresql-15-compute
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
: "${REGRESS:=$(sed -n 's/^REGRESS *= *//p' Makefile)}"

system_pg_config=/usr/lib/postgresql/15/bin/pg_config
if [ "$(realpath -m "$PG_CONFIG_BIN")" = "$system_pg_config" ]; then
	root=""
	dpkg_cmd=(dpkg)
	restore=(make -C "${RESTORE_FROM:-$root_dir}" install)
else
	root=${PG_CONFIG_BIN%"$system_pg_config"}
	[ -n "$root" ] && [ "$root$system_pg_config" = "$PG_CONFIG_BIN" ] ||
		{ echo "check-package: PG_CONFIG $PG_CONFIG_BIN is neither the system's nor a private installation's"; exit 1; }
	mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
	touch "$root/var/lib/dpkg/status"
	# The private root has no postgresql-15 package to depend on.
	dpkg_cmd=(dpkg --root="$root" --force-depends --force-script-chrootless)
	restore=(make -C "${RESTORE_FROM:-$root_dir}" install PG_CONFIG="$PG_CONFIG_BIN")
fi
[ "$(id -u)" -eq 0 ] || { echo "check-package: dpkg -i needs root"; exit 1; }
libdir=$($PG_CONFIG_BIN --pkglibdir)
extdir=$($PG_CONFIG_BIN --sharedir)/extension
where=${root:-"the system's PostgreSQL"}
echo "check-package: into $where ($libdir, $extdir)"

dir=$(scratch_dir package)
installed() { "${dpkg_cmd[@]}" -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; }
compute_files() { ls -d "$libdir"/compute* "$extdir"/compute* 2>/dev/null; }
cleanup() {
	pg_stop "$dir"
	if installed; then "${dpkg_cmd[@]}" -r "$pkg" >/dev/null || echo "check-package: dpkg -r failed"; fi
	echo "== restore: ${restore[*]}"
	"${restore[@]}" >"$dir/restore.log" 2>&1 || { tail -20 "$dir/restore.log"; echo "check-package: restore FAILED"; exit 1; }
	[ -f "$libdir/compute.so" ] && [ -f "$extdir/compute.control" ] || { echo "check-package: restore left no compute.so"; exit 1; }
	echo "source build back after $((SECONDS - removed_at))s without it; ${SECONDS}s in all"
	rm -rf "$dir"
}

# 1. Both packages (built in parallel; their own regression run is left out,
#    the installed files are tested below).
new_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" compute.control)
git cat-file -e "$previous_commit^{commit}" 2>/dev/null || { echo "check-package: commit $previous_commit (1.1.0) is not in this clone"; exit 1; }
old_version=$(git show "$previous_commit:compute.control" | sed -n "s/^default_version = '\(.*\)'/\1/p")
echo "== building $pkg $new_version (this checkout) and $old_version (commit $previous_commit)"
export DEB_BUILD_OPTIONS="nocheck noautodbgsym"
bash scripts/deb.sh "$dir/new" >"$dir/build-new.txt" 2>&1 &
build_new=$!
bash scripts/deb.sh "$dir/old" "$previous_commit" >"$dir/build-old.txt" 2>&1 || { cat "$dir/build-old.txt"; fail "building $old_version"; }
wait $build_new || { cat "$dir/build-new.txt"; fail "building $new_version"; }
new_deb=$(ls "$dir"/new/${pkg}_"$new_version"_*.deb 2>/dev/null)
old_deb=$(ls "$dir"/old/${pkg}_"$old_version"_*.deb 2>/dev/null)
[ -n "$new_deb" ] && [ -n "$old_deb" ] || { echo "check-package: $fails failures"; rm -rf "$dir"; exit 1; }
echo "built both in ${SECONDS}s"
echo "== dpkg -c $(basename "$new_deb")"
listing=$(dpkg -c "$new_deb")
echo "$listing"
# Every install and update script of the checkout, the control file and the library.
for f in compute.control sql/compute--*.sql; do
	grep -qE " \./usr/share/postgresql/15/extension/$(basename "$f")\$" <<<"$listing" || fail "$(basename "$new_deb") lacks $(basename "$f")"
done
grep -qE ' \./usr/lib/postgresql/15/lib/compute\.so$' <<<"$listing" || fail "$(basename "$new_deb") lacks compute.so"

# 2. Out with the source build, in with the previous release's package.
trap cleanup EXIT
removed_at=$SECONDS
echo "== removing the source build: $(compute_files | tr '\n' ' ')"
if installed; then "${dpkg_cmd[@]}" -r "$pkg" >/dev/null; fi
rm -f "$libdir/compute.so" "$extdir"/compute.control "$extdir"/compute--*.sql
[ -z "$(compute_files)" ] || fail "left after removing the source build: $(compute_files)"
echo "== dpkg -i $(basename "$old_deb")"
"${dpkg_cmd[@]}" -i "$old_deb" >"$dir/dpkg-old.log" 2>&1 || { cat "$dir/dpkg-old.log"; fail "dpkg -i $old_version"; }
port=$((20000 + RANDOM % 20000))
PGBIN=$($PG_CONFIG_BIN --bindir) pg_start "$dir" "$port" || fail "server start"
psql -qX -v ON_ERROR_STOP=1 >"$dir/old.out" 2>&1 <<'SQL' || { cat "$dir/old.out"; fail "jobs on $old_version"; }
CREATE EXTENSION compute;
-- Five jobs, submitted one statement (one now()) apart.
SELECT compute.submit_job(decode(md5('job-' || n), 'hex'), 'pkg', '{"n": ' || n || '}') FROM generate_series(1, 1) n;
SELECT compute.submit_job(decode(md5('job-' || n), 'hex'), 'pkg', '{"n": ' || n || '}') FROM generate_series(2, 2) n;
SELECT compute.submit_job(decode(md5('job-' || n), 'hex'), 'pkg', '{"n": ' || n || '}') FROM generate_series(3, 3) n;
SELECT compute.submit_job(decode(md5('job-' || n), 'hex'), 'pkg', '{"n": ' || n || '}') FROM generate_series(4, 4) n;
SELECT compute.submit_job(decode(md5('job-' || n), 'hex'), 'pkg', '{"n": ' || n || '}') FROM generate_series(5, 5) n;
SELECT count(*) FROM compute.grab_job('pkg', 4);
SELECT compute.finish_job(decode(md5('job-1'), 'hex'), 'complete', '{job-1.out}');
SELECT compute.finish_job(decode(md5('job-2'), 'hex'), 'failed');
SELECT compute.finish_job(decode(md5('job-3'), 'hex'), 'complete', '{job-3.out}');
SELECT compute.expire_job(decode(md5('job-3'), 'hex'));
SQL
# The rows as they are: compared after the package upgrade and the update.
jobs_sql="SELECT string_agg(substr(encode(job_id, 'hex'), 1, 6) || ':' || status || ':' || coalesce(attempt::text, '-')
  || ':' || coalesce(array_to_string(output_files, ','), '-'), ' ' ORDER BY status, job_id) FROM compute.jobs"
jobs_before=$(psql -XAtc "$jobs_sql")
version_sql="SELECT (SELECT extversion FROM pg_extension WHERE extname = 'compute') || ' (available ' ||
  (SELECT default_version FROM pg_available_extensions WHERE name = 'compute') || ')'"
echo "on $old_version: $(psql -XAtc "$version_sql"), jobs $jobs_before"
statuses=$(psql -XAtc "SELECT string_agg(DISTINCT status, ',' ORDER BY status) FROM compute.jobs")
[ "$statuses" = "complete,expired,failed,in-progress,queued" ] || fail "jobs in every status: got $statuses"

# 3. The package upgrade under the running server, then the update.
echo "== dpkg -i $(basename "$new_deb") (upgrade from $old_version, server running)"
"${dpkg_cmd[@]}" -i "$new_deb" >"$dir/dpkg-new.log" 2>&1 || { cat "$dir/dpkg-new.log"; fail "dpkg -i $new_version"; }
grep -E '^(Preparing|Unpacking|Setting up)' "$dir/dpkg-new.log"
echo "before the update: $(psql -XAtc "$version_sql")"
psql -X -v ON_ERROR_STOP=1 -c 'ALTER EXTENSION compute UPDATE' || fail "ALTER EXTENSION compute UPDATE"
after=$(psql -XAtc "$version_sql")
jobs_after=$(psql -XAtc "$jobs_sql")
echo "after the update: $after, jobs $jobs_after"
[ "$after" = "$new_version (available $new_version)" ] || fail "version after the update: $after"
[ "$jobs_after" = "$jobs_before" ] || fail "the jobs changed in the update"
# The new functions on the old rows: finish the in-progress job with its
# attempt, grab the queued one, and a failed job may now expire (1.2.0):
# two complete, two expired, one in progress.
psql -XAt -v ON_ERROR_STOP=1 >"$dir/new.out" 2>&1 <<'SQL' || { cat "$dir/new.out"; fail "1.2.0 functions on the updated jobs"; }
SELECT compute.finish_job(job_id, 'complete', '{job-4.out}', attempt) FROM compute.jobs WHERE job_id = decode(md5('job-4'), 'hex');
SELECT count(*) FROM compute.grab_job('pkg', 1, '1 minute');
SELECT status FROM compute.expire_job(decode(md5('job-2'), 'hex'));
SQL
after_use=$(psql -XAtc "SELECT string_agg(status || '=' || n, ' ' ORDER BY status) FROM (SELECT status, count(*) n FROM compute.jobs GROUP BY status) s")
echo "used on $new_version: $after_use"
[ "$after_use" = "complete=2 expired=2 in-progress=1" ] || fail "after using the updated jobs: $after_use"
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE DATABASE fresh' &&
	fresh=$(psql -qXAt -d fresh -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION compute' -c "SELECT extversion FROM pg_extension WHERE extname = 'compute'") ||
	fail "CREATE EXTENSION compute on $new_version"
echo "CREATE EXTENSION compute in a new database: ${fresh:-failed}"
[ "${fresh:-}" = "$new_version" ] || fail "CREATE EXTENSION gave version ${fresh:-none}"

# 4. The regression suite on the installed files, and the autopkgtest.
PGBIN=$($PG_CONFIG_BIN --bindir)
PGXS_DIR=$(dirname "$(dirname "$($PG_CONFIG_BIN --pgxs)")")
run_suite package-regress "$PG_REGRESS" sql "$SUITE_SETTINGS" $REGRESS || fail "regression suite on the package ($suite_failed of $suite_total)"
if [ -z "$root" ]; then
	echo "== autopkgtest: debian/tests/installcheck (pg_buildext installcheck) on the installed package"
	mkdir "$dir/src"
	git ls-files -z | xargs -0 cp --parents -t "$dir/src"
	chown -R postgres: "$dir/src"
	if (cd "$dir/src" && debian/tests/installcheck) >"$dir/autopkgtest.log" 2>&1; then
		grep -E '^### |tests passed' "$dir/autopkgtest.log"
	else
		# Its own lines (not the server log it repeats), then the diffs.
		grep -vE '^[0-9-]+ [0-9:.]+ UTC \[' "$dir/autopkgtest.log" | tail -40
		find "$dir/src" -name regression.diffs -exec head -c 6000 {} \;
		fail "autopkgtest"
	fi
else
	echo "== autopkgtest: left out (it tests the system's installed package, and this is a private root)"
fi

# 5. Removal.
echo "== dpkg -r $pkg"
"${dpkg_cmd[@]}" -r "$pkg" >"$dir/dpkg-r.log" 2>&1 || { cat "$dir/dpkg-r.log"; fail "dpkg -r"; }
grep -E '^Removing' "$dir/dpkg-r.log"
left=$(compute_files; ls -d "$root/usr/share/doc/$pkg" 2>/dev/null)
offered=$(psql -XAtc "SELECT count(*) FROM pg_available_extensions WHERE name = 'compute'")
echo "after dpkg -r: left in PostgreSQL's directories: ${left:-nothing}; extensions named compute offered: $offered"
[ -z "$left" ] || fail "dpkg -r left $left"
[ "$offered" = 0 ] || fail "the server still offers compute"
installed && fail "$pkg still installed"

# 6. (cleanup, on exit) the source build back.
echo "check-package: $(basename "$old_deb") -> $(basename "$new_deb"), $fails failures"
[ "$fails" -eq 0 ]
