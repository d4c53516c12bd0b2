/*-------------------------------------------------------------------------
 *
 * link_trigger.c
 *	  rgpd.link_trigger(), installed on each linked table as AFTER
 *	  INSERT / UPDATE / DELETE statement triggers with transition tables
 *	  (and AFTER TRUNCATE).  It reads the changed rows once
 *	  (transition_rows.c) and turns them into two sets per subject table:
 *	    - raises: a subject gains a date; nothing is written when no date
 *	      is newer;
 *	    - lowers: a date that may have been the greatest went away
 *	      (delete, date corrected downwards, row re-pointed); those
 *	      subjects are locked and recomputed from all their links.
 *	  The engine (contact_engine.c) says what the raises found; this file
 *	  decides the follow-ups: personal data that arrived for an anonymised
 *	  subject is erased at once (anonymise.c), an archived subject given a
 *	  fresh contact is un-archived (archive.c).
 *
 *	  On a partitioned table the same statement triggers are on every table
 *	  of the tree, and act for the registered table at its root; rows that
 *	  join or leave a link with a partition are recorded by
 *	  rgpd_partition_link_rows(), called from partitions.c.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_inherits.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "pericles_rgpd.h"
#include "contact_engine.h"
#include "link_trigger.h"
#include "recompute.h"
#include "transition_rows.h"
#include "trigger_config.h"

PG_FUNCTION_INFO_V1(rgpd_link_trigger);

/*
 * What follows a raise: personal data that arrived through `link` for an
 * anonymised subject is erased at once, and an archived subject given a
 * fresh contact is un-archived.
 */
static void
record_contacts(RgpdSubject *sub, RgpdContact *c, int n, Oid link)
{
	RgpdRaised	raised;

	rgpd_raise_contacts(sub, c, n, &raised);
	if (raised.nanonymised > 0)
		rgpd_erase_on_arrival(sub, link, raised.anonymised, raised.nanonymised);
	if (raised.nrevived > 0)
		rgpd_unarchive_fresh(sub, raised.revived, raised.nrevived, "contact");
}

/*
 * The rows of partition `part` joined (ATTACH PARTITION) or left (DETACH
 * PARTITION) the registered link table `link`: record them as an INSERT
 * or a DELETE of those rows would have.  Joining raises the subjects they
 * bring (and, as any contact, un-archives or erases on arrival); leaving
 * recomputes the subjects whose last_contact may have been one of their
 * dates.  The configuration is the registration's own (the arguments
 * rgpd._link_trigger_args() gives the link's triggers), read against each
 * table of the partition's tree that holds rows, whose columns may lie in
 * another order than the link's.  The command that moved the partition
 * holds it locked against writers; the rows are read under a fresh
 * snapshot.  Under SPI.
 */
void
rgpd_partition_link_rows(Oid link, Oid part, bool joined)
{
	List	   *members = find_all_inheritors(part, AccessShareLock, NULL);
	bool		isnull;
	Datum		expected = rgpd_registration_args(link, KIND_LINK, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			nargs;
	Trigger		config;
	ContactSet *sets = NULL;
	Oid		   *subjects = NULL;
	int			nsubjects = 0;
	Snapshot	snapshot;
	ListCell   *lc;
	int			i,
				s;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s is not registered as a link", rgpd_relname(link))));
	deconstruct_array(DatumGetArrayTypeP(expected), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &nulls, &nargs);
	memset(&config, 0, sizeof(config));
	config.tgname = "rgpd_link_insert";
	config.tgnargs = nargs;
	config.tgargs = palloc(sizeof(char *) * Max(nargs, 1));
	for (i = 0; i < nargs; i++)
		config.tgargs[i] = nulls[i] ? "" : TextDatumGetCString(elems[i]);

	snapshot = RegisterSnapshot(GetLatestSnapshot());
	foreach(lc, members)
	{
		Relation	rel = table_open(lfirst_oid(lc), AccessShareLock);
		TriggerInfo info;
		TableScanDesc scan;
		TupleTableSlot *slot;

		/* partitioned tables hold no rows of their own */
		if (rel->rd_rel->relkind != RELKIND_RELATION)
		{
			table_close(rel, AccessShareLock);
			continue;
		}
		memset(&info, 0, sizeof(info));
		rgpd_parse_link_args(&info, &config, rel);
		if (sets == NULL)
		{
			nsubjects = info.nsubjects;
			sets = palloc0(sizeof(ContactSet) * nsubjects);
			subjects = palloc(sizeof(Oid) * nsubjects);
			for (s = 0; s < nsubjects; s++)
				subjects[s] = info.subjects[s].subject;
		}

		scan = table_beginscan(rel, snapshot, 0, NULL);
		slot = table_slot_create(rel, NULL);
		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			for (s = 0; s < nsubjects; s++)
			{
				if (joined)
				{
					rgpd_refuse_infinite_dates(slot, &info.subjects[s], rel);
					rgpd_collect_new_row(slot, &info.subjects[s], &sets[s]);
				}
				else
					rgpd_collect_old_row(slot, &info.subjects[s], &sets[s]);
			}
			CHECK_FOR_INTERRUPTS();
		}
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, NoLock);
		/* one entry per subject from here on: big partitions stay small */
		for (s = 0; s < nsubjects; s++)
			sets[s].n = rgpd_merge_contacts(sets[s].items, sets[s].n);
	}
	UnregisterSnapshot(snapshot);

	for (s = 0; s < nsubjects; s++)
	{
		RgpdSubject *sub;

		if (sets[s].n == 0)
			continue;
		sub = rgpd_subject(subjects[s], false);
		if (joined)
		{
			/* no foreign-key check of this statement locked them */
			for (i = 0; i < sets[s].n; i++)
				sets[s].items[i].locked = false;
			record_contacts(sub, sets[s].items, sets[s].n, link);
		}
		else
			rgpd_lower_contacts(sub, sets[s].items, sets[s].n);
	}
}

/*
 * rgpd.link_trigger(): AFTER INSERT / UPDATE / DELETE FOR EACH STATEMENT
 * with transition tables, and AFTER TRUNCATE.
 */
Datum
rgpd_link_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent ev;
	TriggerInfo *info;
	TupleDesc	desc;
	int			s;

	rgpd_check_trigger_protocol(fcinfo, "rgpd.link_trigger()", false);
	ev = trigdata->tg_event;
	if (!TRIGGER_FIRED_FOR_STATEMENT(ev))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function rgpd.link_trigger() must be fired FOR EACH STATEMENT")));

	/* the extension's own rewrites of linked rows are not contacts */
	if (TRIGGER_FIRED_BY_UPDATE(ev) && rgpd_internal_write())
		return PointerGetDatum(NULL);

	info = rgpd_trigger_info(trigdata, KIND_LINK);
	desc = RelationGetDescr(trigdata->tg_relation);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");

	for (s = 0; s < info->nsubjects; s++)
	{
		LinkSubject *ls = &info->subjects[s];
		RgpdSubject *sub = rgpd_subject(ls->subject, false);
		ContactSet	raise = {0};
		ContactSet	lower = {0};
		TransitionReader oldr,
					newr;

		if (TRIGGER_FIRED_BY_TRUNCATE(ev))
		{
			rgpd_recompute_subject(sub);
			continue;
		}
		if (TRIGGER_FIRED_BY_INSERT(ev))
		{
			if (trigdata->tg_newtable == NULL)
				rgpd_missing_transition_table(trigdata, "rgpd.link_trigger()", "NEW");
			rgpd_reader_open(&newr, trigdata->tg_newtable, desc);
			while (rgpd_reader_next(&newr))
			{
				rgpd_refuse_infinite_dates(newr.slot, ls, trigdata->tg_relation);
				rgpd_collect_new_row(newr.slot, ls, &raise);
			}
			rgpd_reader_close(&newr);
		}
		else if (TRIGGER_FIRED_BY_DELETE(ev))
		{
			if (trigdata->tg_oldtable == NULL)
				rgpd_missing_transition_table(trigdata, "rgpd.link_trigger()", "OLD");
			rgpd_reader_open(&oldr, trigdata->tg_oldtable, desc);
			while (rgpd_reader_next(&oldr))
				rgpd_collect_old_row(oldr.slot, ls, &lower);
			rgpd_reader_close(&oldr);
		}
		else if (TRIGGER_FIRED_BY_UPDATE(ev))
		{
			bool		more_old,
						more_new;

			if (trigdata->tg_oldtable == NULL || trigdata->tg_newtable == NULL)
				rgpd_missing_transition_table(trigdata, "rgpd.link_trigger()", "OLD and NEW");

			/*
			 * Old and new rows are stored in the same order, one pair per
			 * updated row.
			 */
			rgpd_reader_open(&oldr, trigdata->tg_oldtable, desc);
			rgpd_reader_open(&newr, trigdata->tg_newtable, desc);
			for (;;)
			{
				more_old = rgpd_reader_next(&oldr);
				more_new = rgpd_reader_next(&newr);
				if (!more_old || !more_new)
					break;
				rgpd_refuse_infinite_dates(newr.slot, ls, trigdata->tg_relation);
				rgpd_collect_updated_row(oldr.slot, newr.slot, ls, &raise, &lower);
			}
			if (more_old != more_new)
				elog(ERROR, "pericles_rgpd: rgpd.link_trigger(): transition tables of different sizes");
			rgpd_reader_close(&oldr);
			rgpd_reader_close(&newr);
		}

		if (lower.n > 0)
			rgpd_lower_contacts(sub, lower.items, lower.n);
		if (raise.n > 0)
			record_contacts(sub, raise.items, raise.n, info->registered);
	}

	SPI_finish();
	return PointerGetDatum(NULL);
}
