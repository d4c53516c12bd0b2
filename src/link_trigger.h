/*-------------------------------------------------------------------------
 *
 * link_trigger.h
 *	  The link trigger and the rows that join or leave a partitioned link
 *	  (link_trigger.c).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RGPD_LINK_TRIGGER_H
#define RGPD_LINK_TRIGGER_H

#include "postgres_ext.h"

/* Rows of partition part joined (or left) the registered link. Under SPI. */
extern void rgpd_partition_link_rows(Oid link, Oid part, bool joined);

#endif							/* RGPD_LINK_TRIGGER_H */
