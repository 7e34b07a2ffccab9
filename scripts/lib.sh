# Shared by the project's scripts (source it): a throwaway PostgreSQL
# cluster, run as the postgres OS user when we are root (initdb and postgres
# refuse to run as root).

PG_CONFIG_BIN=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=${PGBIN:-$($PG_CONFIG_BIN --bindir)}
export PATH="$PGBIN:$PATH"

# Runs a command as the user that owns the test clusters.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A new scratch directory that the cluster's user can write. Under /tmp, so
# that it works wherever the checkout is (even in a directory postgres cannot
# enter).
scratch_dir() {
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/compute-$1.XXXXXX")
	chmod 755 "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	echo "$dir"
}

# pg_start DIR PORT [postgres -c options...]: initdb DIR/data, start it on a
# Unix socket in DIR only, and point libpq's PG* variables at it.
pg_start() {
	local dir=$1 port=$2
	shift 2
	as_pg initdb -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log"; return 1; }
	as_pg pg_ctl -D "$dir/data" -o "$(pg_opts "$dir" "$port" "$@")" -l "$dir/server.log" -w start >/dev/null ||
		{ cat "$dir/server.log"; return 1; }
	export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
}

# pg_opts DIR PORT [options...]: the server's command line options of
# pg_start. fsync=off unless an option says otherwise (the last -c wins).
pg_opts() {
	local dir=$1 port=$2
	shift 2
	local opts="-p $port -k $dir -c listen_addresses= -c fsync=off -c max_connections=50"
	for o in "$@"; do opts="$opts -c $o"; done
	echo "$opts"
}

# pg_restart DIR PORT [postgres -c options...]: restart the cluster started
# in DIR by pg_start with these options instead of its first ones.
pg_restart() {
	local dir=$1 port=$2
	shift 2
	as_pg pg_ctl -D "$dir/data" -o "$(pg_opts "$dir" "$port" "$@")" -l "$dir/server.log" -m fast -w restart >/dev/null ||
		{ cat "$dir/server.log"; return 1; }
}

# pg_stop DIR [mode]: stop the cluster started in DIR.
pg_stop() {
	as_pg pg_ctl -D "$1/data" -m "${2:-fast}" -w stop >/dev/null 2>&1 || true
}

# private_install INST SRC [SO]: a private PostgreSQL "installation" under
# INST with the extension files of the tree SRC (control file and SQL
# scripts) and, if given, the library SO as compute.so; prints its bindir.
# The binaries are copied (PostgreSQL finds its share and lib directories
# relative to itself), the rest linked; the system installation is not
# touched. Used to run a server on another build of the library, or to
# build and install one there: make PG_CONFIG=INST/.../bin/pg_config.
private_install() {
	local inst=$1 src=$2 so=${3:-} bindir libdir sharedir f
	bindir=$($PG_CONFIG_BIN --bindir)
	libdir=$($PG_CONFIG_BIN --pkglibdir)
	sharedir=$($PG_CONFIG_BIN --sharedir)
	mkdir -p "$inst$bindir" "$inst$libdir" "$inst$sharedir/extension"
	cp -a "$bindir/." "$inst$bindir/"
	for f in "$libdir"/*; do
		case $(basename "$f") in compute.so | compute) continue ;; esac
		ln -s "$f" "$inst$libdir/"
	done
	[ -z "$so" ] || cp "$so" "$inst$libdir/compute.so"
	for f in "$sharedir"/*; do
		[ "$(basename "$f")" = extension ] || ln -s "$f" "$inst$sharedir/"
	done
	for f in "$sharedir"/extension/*; do
		case $(basename "$f") in compute.control | compute--*) continue ;; esac
		ln -s "$f" "$inst$sharedir/extension/"
	done
	cp "$src"/compute.control "$src"/sql/compute--*.sql "$inst$sharedir/extension/"
	# Headers, for building against the private installation (PGXS looks for
	# them relative to its pg_config too).
	[ -e "$inst/usr/include" ] || ln -s /usr/include "$inst/usr/include"
	# pgxn install (check-dist) wants pg_config's libdir to be writable.
	mkdir -p "$inst$($PG_CONFIG_BIN --libdir)"
	[ "$("$inst$bindir/pg_config" --sharedir)" = "$inst$sharedir" ] || {
		echo "private install: pg_config does not relocate to $inst" >&2
		return 1
	}
	echo "$inst$bindir"
}

# expected_outputs DEST PRELOADED: the expected outputs (expected/*.out) for
# a regression or isolation run with the library in shared_preload_libraries
# (PRELOADED=1) or loaded on demand (0), copied into DEST. A test whose
# answer depends on it has two files, NAME.out for the preloaded run and
# NAME_1.out for the other (PRELOAD_VARIANTS lists them). pg_regress would
# accept either file in either run, so each run gets only its own, as
# NAME.out: a run that silently lost its preload fails.
PRELOAD_VARIANTS="marks stats"
expected_outputs() {
	local dest=$1 preloaded=$2 src=${3:-expected} t
	mkdir -p "$dest"
	cp "$src"/*.out "$dest/"
	for t in $PRELOAD_VARIANTS; do
		[ -f "$src/$t.out" ] && [ -f "$src/${t}_1.out" ] || {
			echo "expected_outputs: $src/$t.out and $src/${t}_1.out must both exist" >&2
			return 1
		}
		if [ "$preloaded" = 1 ]; then
			rm -f "$dest/${t}_1.out"
		else
			mv -f "$dest/${t}_1.out" "$dest/$t.out"
		fi
		ls "$dest/${t}"_[0-9].out >/dev/null 2>&1 && {
			echo "expected_outputs: $t has more alternative outputs than the two runs: say which run each is" >&2
			return 1
		}
	done
	return 0
}

# The pg_regress-style runners of PostgreSQL's PGXS, and the server settings
# of the suites' temporary instances (scripts/test.sh runs each suite with
# both): prepared transactions on (test/sql/marks_paths.sql), and the
# same preloaded, where grab_job scans from the queue marks in shared memory.
PGXS_LIB_DIR=$(dirname "$(dirname "$($PG_CONFIG_BIN --pgxs)")")
PG_REGRESS=$PGXS_LIB_DIR/test/regress/pg_regress
PG_ISOLATION_REGRESS=$PGXS_LIB_DIR/test/isolation/pg_isolation_regress
# The library loaded on demand also takes the SPI path of the finishes
# (compute.direct_path off), the preloaded one their direct path (the
# default): each path runs the whole suite.
SUITE_SETTINGS="max_prepared_transactions = 10
compute.direct_path = off"
SUITE_SETTINGS_PRELOADED="max_prepared_transactions = 10
shared_preload_libraries = 'compute'"

# run_suite NAME RUNNER INPUT_SUBDIR SERVER_SETTINGS TESTS...: one
# pg_regress-style suite, run from the current directory's test/INPUT_SUBDIR
# and expected/ (the run's own: expected_outputs) on a temporary instance
# whose postgresql.conf gets SERVER_SETTINGS. Sets suite_total and suite_failed; keeps the outputs (and
# prints the diffs) when a test fails; returns non-zero then.
run_suite() {
	local name=$1 runner=$2 subdir=$3 settings=$4
	shift 4
	local dir
	dir=$(scratch_dir "$name")
	cp -r "test/$subdir" "$dir/$subdir"
	local preloaded=0
	grep -qE "^shared_preload_libraries = .*compute" <<<"$settings" && preloaded=1
	expected_outputs "$dir/expected" "$preloaded" || {
		suite_total=$# suite_failed=$#
		return 1
	}
	echo "$settings" >"$dir/settings.conf"
	[ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
	echo "== $name: $* (in $dir)"
	(cd "$dir" && as_pg "$runner" --temp-instance="$dir/tmp" --temp-config="$dir/settings.conf" \
		--inputdir="$dir" --outputdir="$dir" --bindir="$PGBIN" "$@") | tee "$dir/summary.txt"
	suite_total=$#
	suite_failed=$(grep -cE '\.\.\. FAILED' "$dir/summary.txt" || true)
	if grep -qE '^ *All [0-9]+ tests passed' "$dir/summary.txt"; then
		rm -rf "$dir"
		return 0
	fi
	[ "$suite_failed" -eq 0 ] && suite_failed=$suite_total
	[ -f "$dir/regression.diffs" ] && head -c 20000 "$dir/regression.diffs"
	echo "$name: outputs kept in $dir"
	return 1
}
