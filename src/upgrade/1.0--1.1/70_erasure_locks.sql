
/* ------------------------------------------------------------------ *
 * Erasure without table locks (1.1)
 *
 * 1.0 held off writers of the link tables with a SHARE lock for the whole
 * of an anonymisation, then wrote those tables (ROW EXCLUSIVE): a lock
 * upgrade, which deadlocked two anonymisations against each other and an
 * anonymisation against any transaction that wrote two link tables, and
 * queued every writer of a link behind it.  1.1 takes no table lock: the
 * subject rows, locked FOR UPDATE in key order, are what keeps new
 * personal data out while they are erased (every writer of a linked row
 * holds its subject FOR KEY SHARE: the foreign key's check or the link
 * trigger), see src/anonymise.c.
 *
 * Erasure on arrival used to rewrite every linked row of an anonymised
 * subject, old ones included, and so waited for (and deadlocked with)
 * any transaction holding one of them.  It now rewrites only the rows
 * that still carry something to erase: the rows that just arrived.
 * ------------------------------------------------------------------ */

-- The erasure on arrival is RGPD_LINK_ERASE_ARRIVAL (src/link_statements.c).
