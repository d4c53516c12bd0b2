/*-------------------------------------------------------------------------
 *
 * link_statements.h
 *	  The statements on the linked rows of one subject table's subjects,
 *	  by kind (link_statements.c): marking them archived, erasing them,
 *	  deleting them.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RGPD_LINK_STATEMENTS_H
#define RGPD_LINK_STATEMENTS_H

#include "postgres_ext.h"

/*
 * The kinds, with what their parameters mean.  Each runs as the link's
 * owner through the gate; $1 is an int8[] of subject keys.  The erasing
 * kinds RETURN one int8 column per subject column of the link (the
 * subject of $1 the row belongs to through it, else NULL), so that the
 * caller counts rows per subject.
 */
typedef enum RgpdLinkStatementKind
{
	RGPD_LINK_MARK_ARCHIVED,	/* mark the rows none of whose subjects is
								 * active (links archived with their subject) */
	RGPD_LINK_MARK_ACTIVE,		/* unmark the rows of these subjects */
	RGPD_LINK_DELETE,			/* delete the rows that go with their subject
								 * (erasure method delete_row) */
	RGPD_LINK_ERASE,			/* erase the personal columns that belong to
								 * these subjects, in one UPDATE */
	RGPD_LINK_ERASE_ARRIVAL,	/* the same, only on rows where one still
								 * differs from its erased value */
	RGPD_LINK_STATEMENT_COUNT
} RgpdLinkStatementKind;

/* Flags of rgpd_link_statement_sql(). */
#define RGPD_LINK_SPARE_KEPT	0x01	/* leave the rows the link's retention
										 * rule keeps (retention_statements.c) */
#define RGPD_LINK_ONLY_KEPT		0x02	/* with SPARE_KEPT: NULL when the link
										 * keeps nothing (the sweep erasing rows
										 * whose keep ended) */

/* The statement, or NULL when the link has nothing it applies to. */
extern char *rgpd_link_statement_sql(Oid subject, Oid link, RgpdLinkStatementKind kind,
									 int flags);

#endif							/* RGPD_LINK_STATEMENTS_H */
