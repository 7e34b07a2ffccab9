#!/usr/bin/env bash
# The release's versions and its PGXN archive:
# - compute.control's default_version, META.json's version and its provides
#   entry, the newest sql/compute--*.sql (the script reaching the default
#   version) and debian/changelog name the same version;
# - META.json holds what the PGXN meta spec 1.0.0 requires, with the types
#   it gives (https://pgxn.org/spec/), and names files that are in the archive;
# - `make dist` writes compute-<version>.zip with everything under
#   compute-<version>/, and Debian's pgxnclient reads it offline: `pgxn
#   install` builds and installs it from the zip into a private installation,
#   `pgxn load` creates the extension the provides section names, and `pgxn
#   check` runs the archive's own tests (make installcheck) against a
#   throwaway server of that installation.
# Nothing system-wide is touched. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
# Its own private installation is made from the system's PostgreSQL 15, even
# when PG_CONFIG names another private installation (it touches neither).
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
unset PGBIN
. scripts/lib.sh
bash scripts/deps.sh base package || exit 1

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

control=$(sed -n "s/^default_version = '\(.*\)'/\1/p" compute.control)
read -r meta meta_provided meta_file < <(python3 -c '
import json; m = json.load(open("META.json")); p = m["provides"]["compute"]
print(m["version"], p["version"], p["file"])')
# The script that reaches a version is compute--V.sql or compute--X--V.sql;
# the newest is the one reaching the highest V.
newest=$(ls sql/compute--*.sql | sed -E 's/.*--([0-9.]+)\.sql$/\1 &/' | sort -V -k1,1 | tail -1)
script_version=${newest%% *}
changelog=$(dpkg-parsechangelog -l debian/changelog -S Version)
echo "versions: compute.control $control, META.json $meta (provides compute $meta_provided)," \
	"newest script ${newest#* } ($script_version), debian/changelog $changelog"
for v in "$meta" "$meta_provided" "$script_version" "$changelog"; do
	[ "$v" = "$control" ] || fail "version $v differs from compute.control's $control"
done
grep -q "'$control'" "${newest#* }" || fail "${newest#* } does not set version '$control' in compute.meta"

dir=$(scratch_dir dist)
trap 'pg_stop "$dir"; rm -rf "$dir"' EXIT
make --no-print-directory -s dist DISTDIR="$dir" >/dev/null || fail "make dist"
zip="$dir/compute-$control.zip"
[ -f "$zip" ] || { fail "make dist wrote no $zip"; echo "check-dist: $fails failures"; exit 1; }

# META.json against the meta spec 1.0.0, as it is in the archive.
python3 - "$zip" "compute-$control" <<'PY' || fail "META.json or the archive's layout"
import json, re, sys, zipfile
zf = zipfile.ZipFile(sys.argv[1]); prefix = sys.argv[2] + "/"
names = zf.namelist()
bad = [n for n in names if not n.startswith(prefix)]
errors = ["entries outside %s: %s" % (prefix, bad[:3])] if bad else []
m = json.loads(zf.read(prefix + "META.json"))
semver = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)([a-zA-Z][0-9a-zA-Z-]*)?$")
licenses = {"agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
            "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit",
            "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay",
            "sun", "zlib", "open_source", "restricted", "unrestricted", "unknown"}
def need(obj, key, typ, where):
    if key not in obj: errors.append("%s: %s is required" % (where, key)); return None
    if not isinstance(obj[key], typ): errors.append("%s: %s is not %s" % (where, key, typ)); return None
    return obj[key]
for key in ("name", "abstract", "version"): need(m, key, str, "META.json")
if not re.match(r"^[^\s/\\]{2,}$", m.get("name", "")): errors.append("name: not a valid term")
if not semver.match(str(m.get("version"))): errors.append("version %r is not semver" % m.get("version"))
mt = m.get("maintainer")
if not (isinstance(mt, str) or (isinstance(mt, list) and mt and all(isinstance(x, str) for x in mt))):
    errors.append("maintainer: a string or a non-empty list of strings is required")
lic = m.get("license")
lics = [lic] if isinstance(lic, str) else list(lic) if isinstance(lic, (list, dict)) else []
if not lics or (not isinstance(lic, dict) and not all(l in licenses for l in lics)):
    errors.append("license %r is not one the spec names" % lic)
spec = need(m, "meta-spec", dict, "META.json") or {}
if spec.get("version") != "1.0.0": errors.append("meta-spec version is %r, not 1.0.0" % spec.get("version"))
provides = need(m, "provides", dict, "META.json") or {}
if not provides: errors.append("provides: at least one extension")
for ext, p in provides.items():
    f = need(p, "file", str, "provides." + ext); v = need(p, "version", str, "provides." + ext)
    if v is not None and not semver.match(v): errors.append("provides.%s.version %r is not semver" % (ext, v))
    for k in ("file", "docfile"):
        if k in p and prefix + p[k] not in names: errors.append("provides.%s.%s %s is not in the archive" % (ext, k, p[k]))
for phase in (m.get("prereqs") or {}).values():
    for rel in phase.values():
        for name, ver in rel.items():
            if not (ver == 0 or semver.match(str(ver)) or re.match(r"^[<>=!]", str(ver))):
                errors.append("prereq %s: version %r" % (name, ver))
for known in ("tags", "no_index", "resources", "release_status", "generated_by", "description"):
    pass  # optional; types checked where present
if "tags" in m and not (isinstance(m["tags"], list) and all(isinstance(t, str) and 0 < len(t) <= 255 for t in m["tags"])):
    errors.append("tags: a list of strings")
if m.get("release_status", "stable") not in ("stable", "testing", "unstable"):
    errors.append("release_status %r" % m["release_status"])
print("META.json in %s: %d entries, meta-spec %s, provides %s" % (
    sys.argv[1].rsplit("/", 1)[-1], len(names), spec.get("version"),
    ", ".join("%s %s (%s)" % (e, p.get("version"), p.get("file")) for e, p in provides.items())))
for e in errors: print("  " + e)
sys.exit(1 if errors else 0)
PY

# pgxnclient, offline: install from the zip into a private installation,
# then load and check it on a throwaway server of that installation.
bindir=$(private_install "$dir/inst" "$PWD") || { fail "private installation"; exit 1; }
chown -R postgres: "$dir/inst" 2>/dev/null || true
pg_config="$bindir/pg_config"
export PATH="$bindir:$PATH"
if (cd "$dir" && MAKEFLAGS=-j"$(nproc)" pgxn install --nosudo --pg_config "$pg_config" "./compute-$control.zip") >"$dir/pgxn-install.log" 2>&1; then
	echo "pgxn install: $(ls "$("$pg_config" --pkglibdir)/compute.so") built from the zip"
else
	tail -20 "$dir/pgxn-install.log"; fail "pgxn install"
fi
PGBIN=$bindir pg_start "$dir" $((20000 + RANDOM % 20000)) || fail "server"
if (cd "$dir" && pgxn load --pg_config "$pg_config" -d postgres "./compute-$control.zip") >"$dir/pgxn-load.log" 2>&1 &&
	v=$(psql -XAtc "SELECT extversion FROM pg_extension WHERE extname = 'compute'") && [ "$v" = "$control" ]; then
	echo "pgxn load: CREATE EXTENSION compute, version $v"
else
	cat "$dir/pgxn-load.log"; fail "pgxn load (version ${v:-none})"
fi
if (cd "$dir" && pgxn check --pg_config "$pg_config" -d pgxn_check "./compute-$control.zip") >"$dir/pgxn-check.log" 2>&1; then
	grep -E '^\+\+\+ .* install-check|tests passed' "$dir/pgxn-check.log" |
		awk '/^\+\+\+/ {kind = $2; next} {sub(/^ */, ""); print "pgxn check, " kind ": " $0}'
else
	tail -40 "$dir/pgxn-check.log"; fail "pgxn check"
fi

echo "check-dist: compute-$control.zip, $fails failures"
[ "$fails" -eq 0 ]
