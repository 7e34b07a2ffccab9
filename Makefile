# compute: PGXS build of the extension, plus the project's two commands.
#
#   make demo   the main job end to end on a throwaway PostgreSQL cluster
#   make test   every test: unit (CTest), regression, isolation, multi-client
#   make deb    the Debian package postgresql-15-compute (build/deb/*.deb)
#   make dist   the PGXN release compute-<version>.zip
#   make docs   docs/states.svg from docs/states.dot (Graphviz)
#
# They install what they lack first (scripts/deps.sh, Debian packages).

EXTENSION  = compute
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" compute.control)
PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)

CORE_OBJS = src/core/status.o src/core/errors.o src/core/transition.o src/core/validate.o src/core/lease.o src/core/queue_mark.o src/core/rights.o src/core/stats.o
PG_OBJS   = src/pg/module.o src/pg/marks.o src/pg/boundary.o src/pg/plans.o src/pg/functions.o src/pg/trigger.o src/pg/rights.o src/pg/waiters.o src/pg/stats.o src/pg/maintenance.o src/pg/distributed.o src/pg/direct.o
MODULE_big = compute
OBJS       = $(CORE_OBJS) $(PG_OBJS)
DATA       = $(wildcard sql/compute--*.sql)

# `make installcheck` against a running server; `make test` is the full run.
# Inputs are in test/sql and test/specs, expected outputs in expected/: the
# runners look for <outputdir>/expected first, hence the link.
REGRESS        = install functions transitions errors leases marks marks_db stats promises worker_loop direct privileges upgrade queue_stats health queue_forms
# Needs max_prepared_transactions > 0, which `make test` sets on its
# instances but a running server (installcheck, the package's autopkgtest)
# may not have: run by `make test` only, after the rest.
REGRESS_PREPARED = marks_paths health_prepared
REGRESS_OPTS   = --inputdir=test --outputdir=build/installcheck
ISOLATION      = $(basename $(notdir $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --outputdir=build/installcheck
REGRESS_PREP   = build/installcheck/expected

PG_CPPFLAGS = -I$(CURDIR)/src
PG_CXXFLAGS = -std=c++17 -Wno-register -Wno-missing-field-initializers
SHLIB_LINK  = -lstdc++

# PGXS would also compile every source to LLVM bitcode for JIT inlining
# (with_llvm = yes in Debian's build). The SQL functions here are called
# through fmgr, never inlined into JIT-compiled expressions, so the bitcode
# would buy nothing and would need clang-14 as a build dependency: off.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

ifeq ($(wildcard $(PGXS)),)
# No PGXS yet (a fresh machine): install the dependencies, then run again.
all install demo unit installcheck bench bench-latency test-citus:
	bash scripts/deps.sh
	$(MAKE) $@
test deb dist:
	bash scripts/deps.sh base package
	$(MAKE) $@
else
include $(PGXS)

# Header dependencies.
override CXXFLAGS += -MMD -MP
-include $(OBJS:.o=.d)

.PHONY: deps deps-package demo test unit bench bench-latency deb dist test-citus
deps:
	bash scripts/deps.sh

# Debian packaging and PGXN: make test checks them too.
deps-package:
	bash scripts/deps.sh base package

demo: deps all
	$(MAKE) install
	bash scripts/demo.sh

unit: deps
	bash scripts/unit.sh

test: deps-package all
	$(MAKE) install
	REGRESS="$(REGRESS) $(REGRESS_PREPARED)" ISOLATION="$(ISOLATION)" bash scripts/test.sh

# compute on a three-node Citus cluster (README, "Distributed mode"):
# builds Citus from ../shared/citus into a private installation under /tmp
# (never the system's), or uses one installed with PG_CONFIG's PostgreSQL;
# says "skipped" and passes when there is neither.
test-citus: deps all
	bash scripts/check-citus.sh

bench: deps all
	$(MAKE) install
	bash bench/run.sh

# Submit-to-grab and submit-to-result latency against graphile-worker (npm,
# pinned by bench/latency/package-lock.json); bench/README.md.
bench-latency: deps all
	$(MAKE) install
	cd bench/latency && npm ci --no-audit --no-fund --loglevel=error
	bash bench/latency.sh

# The package is built from a copy of the checkout in build/deb, with
# dpkg-buildpackage and the debian/ directory (pg_buildext's pgxs_loop).
deb: deps-package
	bash scripts/deb.sh build/deb

# The PGXN release: the committed tree (HEAD) as PGXN expects it, in DISTDIR.
DISTDIR ?= .
dist: deps-package
	git archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ -o $(DISTDIR)/$(EXTENSION)-$(EXTVERSION).zip HEAD
	@echo "dist: $(DISTDIR)/$(EXTENSION)-$(EXTVERSION).zip"

build/installcheck/expected:
	mkdir -p build/installcheck
	ln -sfn ../../expected $@

EXTRA_CLEAN = build $(OBJS:.o=.d)
endif

# The picture of the state machine in the README: docs/states.svg, drawn by
# Graphviz from docs/states.dot (scripts/check-docs.sh checks it is current;
# a unit test, that the dot file's edges are the transition table).
.PHONY: docs
docs: docs/states.svg
docs/states.svg: docs/states.dot
	@command -v dot >/dev/null || bash scripts/deps.sh
	dot -Tsvg docs/states.dot -o $@
