#!/usr/bin/env bash
# test/installcheck.sh — make installcheck: every suite of test/run.sh
# against the extension already installed (make install) and a server that
# already runs, reached through PGHOST, PGPORT and PGUSER (a superuser).
#
# The suites create the databases rgpd_regress, rgpd_isolation, rgpd_tap
# (and a few more, dropped at the end) and cluster-wide roles named
# regress_*, rgpd_sweeper and rgpd_manager; the server must let these roles
# connect without a password from where the suites connect (e.g. "local all
# all trust" on a test server).  Suites the server cannot run are left out,
# with the reason printed: sql/07_schedule and the real scheduled run need
# pg_cron preloaded with cron.database_name = 'rgpd_regress' and
# cron.use_background_workers = on; pgTAP needs the pgtap extension.
# Isolation specs always run (they need max_prepared_transactions > 0 only
# if a spec prepares; none does).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PGHOST=${PGHOST:-/var/run/postgresql} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}

q() { "$PGBIN/psql" -X -At -d postgres -c "$1"; }
if ! q "SELECT 1" >/dev/null; then
	echo "make installcheck: cannot connect (PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER)" >&2
	exit 1
fi
if [ "$(q "SELECT count(*) FROM pg_available_extension_versions WHERE name = 'pericles_rgpd' AND version = '1.1'")" != 1 ]; then
	echo "make installcheck: pericles_rgpd 1.1 is not installed in this server's PostgreSQL (run make install)" >&2
	exit 1
fi

# a copy of the suites, without those this server cannot run
tree=$(mktemp -d /tmp/pericles_rgpd.XXXXXX)
trap 'rm -rf "$tree"' EXIT
cp -r "$top/sql" "$top/expected" "$top/test" "$tree"/
chmod -R a+rX "$tree"
if [ "$(q "SELECT current_setting('cron.database_name', true) = 'rgpd_regress'
               AND current_setting('cron.use_background_workers', true) = 'on'
               AND EXISTS (SELECT 1 FROM pg_hba_file_rules WHERE 'regress_cron_reject' = ANY (user_name))")" != t ]; then
	echo "skipped: 07_schedule (needs pg_cron preloaded with cron.database_name = 'rgpd_regress' and cron.use_background_workers = on, and the two pg_hba.conf rules test/cluster.sh writes)"
	rm -f "$tree/sql/07_schedule.sql"
fi
if [ "$(q "SELECT count(*) FROM pg_available_extensions WHERE name = 'pgtap'")" != 1 ]; then
	echo "skipped: pgTAP files (the pgtap extension is not installed)"
	rm -rf "$tree/test/pgtap"
fi
RGPD_EXISTING_SERVER=1 "$tree/test/run.sh"
