# pericles_rgpd — build with PGXS against PostgreSQL 15.
#
#   make            build the module
#   make install    install it into PostgreSQL 15 (as root)
#   make test       install missing packages, build, install, run every suite
#                   (pg_regress, isolation, pgTAP) on a throwaway cluster
#   make demo       same set-up, then the demo agency walk-through
#   make bench      the benchmarks in bench/ (never part of make test)
#   make installcheck  every suite against the installed extension and an
#                   existing server (PGHOST, PGPORT, PGUSER: a superuser)
#
# Packagers: make WERROR=   builds without -Werror (warnings stay warnings).

EXTENSION   = pericles_rgpd
MODULE_big  = pericles_rgpd
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
# 1.0 has shipped and is frozen.  Later versions are built from
# src/upgrade/A--B/*.sql: the upgrade script is their concatenation, and the
# full install script of B is the script of A followed by the upgrade.
DATA        = pericles_rgpd--1.0.sql
DATA_built  = pericles_rgpd--1.0--1.1.sql pericles_rgpd--1.1.sql
PGFILEDESC  = "pericles_rgpd - GDPR retention rules inside PostgreSQL"

# pg_regress (sql/ + expected/) and isolation (test/specs + test/expected);
# test/run.sh runs both against its own throwaway cluster.
REGRESS     = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
ISOLATION   = $(basename $(notdir $(sort $(wildcard test/specs/*.spec))))

PG_CONFIG  ?= /usr/lib/postgresql/15/bin/pg_config

# The server headers are not -Wextra clean (unused parameters in static
# inline functions), so they are included as system headers; our own code
# is compiled with -Wall -Wextra -Werror (WERROR= to build without it).
WERROR     ?= -Werror
ifneq ($(wildcard $(PG_CONFIG)),)
PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server) -Isrc
PG_CFLAGS   = -Wall -Wextra $(WERROR)
# installcheck is ours (below), not PGXS's single pg_regress run
NO_INSTALLCHECK = 1
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
else
all install:
	@echo "PostgreSQL 15 development files are missing: run 'make deps' (or 'make test', which runs it)." >&2
	@exit 1
endif

# every object depends on the shared header (PGXS tracks no dependencies)
$(OBJS): $(wildcard src/*.h)

pericles_rgpd--1.0--1.1.sql: $(sort $(wildcard src/upgrade/1.0--1.1/*.sql))
	cat $^ > $@

# the full 1.1 script: 1.0, then the upgrade without its psql guard
pericles_rgpd--1.1.sql: pericles_rgpd--1.0.sql pericles_rgpd--1.0--1.1.sql
	{ cat pericles_rgpd--1.0.sql; grep -v '^\\echo Use "ALTER EXTENSION' pericles_rgpd--1.0--1.1.sql; } > $@

.PHONY: deps test demo bench announce-install

# make test, demo and bench install into the system's PostgreSQL: say where
announce-install:
	@echo "Installing pericles_rgpd into PostgreSQL's directories: $$($(PG_CONFIG) --pkglibdir) (library), $$($(PG_CONFIG) --sharedir)/extension (scripts)"

deps:
	@test/deps.sh

test: deps
	@$(MAKE) --no-print-directory -s all
	@$(MAKE) --no-print-directory -s announce-install
	@$(MAKE) --no-print-directory -s install >/dev/null
	@test/run.sh

demo: deps
	@$(MAKE) --no-print-directory -s all
	@$(MAKE) --no-print-directory -s announce-install
	@$(MAKE) --no-print-directory -s install >/dev/null
	@demo/run.sh

bench: deps
	@$(MAKE) --no-print-directory -s all
	@$(MAKE) --no-print-directory -s announce-install
	@$(MAKE) --no-print-directory -s install >/dev/null
	@bench/run.sh

# installcheck: PGXS's convention — the installed extension, an existing
# server.  Our suites need more than pg_regress's one database (roles,
# pg_cron, an isolation schedule, pgTAP), so test/installcheck.sh runs
# them; see the README for the roles and authentication it needs.
installcheck:
	@test/installcheck.sh
