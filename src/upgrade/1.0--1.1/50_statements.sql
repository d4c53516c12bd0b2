/* ------------------------------------------------------------------ *
 * The statements are built in C, by kind (1.1)
 *
 * 1.0 generated every statement it ran on an application table with the
 * PL/pgSQL function rgpd._sql(subject, what text), a dispatch on strings,
 * helped by fragment generators.  From 1.1 each statement is a kind of an
 * enum, built in C beside what its parameters mean:
 *   src/subject_statements.c    RgpdStatementKind: the contact engine,
 *       recomputation, verify, status changes, what falls due, the sweep
 *       and its batches, re-consent, erasure of the record, export;
 *   src/link_statements.c       RgpdLinkStatementKind: archive markers
 *       and erasure of linked rows;
 *   src/retention_statements.c  RgpdRetentionStatementKind: the rows a
 *       retention rule keeps, the purge;
 *   src/statement_parts.c       the configuration they are built from and
 *       the fragments they share;
 * and, beside their only use, the recipients of a campaign
 * (src/consent.c, was rgpd._recipients_sql) and the statements that hold
 * apart the values of archived people on linked rows
 * (src/archive_values.c).  The engine's saved plans are cached per
 * (subject, kind).  What they run is unchanged: the C builders were
 * checked, statement by statement, against the PL/pgSQL ones over the
 * whole test suite before these were dropped.  rgpd.erasure_method()
 * stays the one definition of a column's erasure method.
 *
 * A contact and the sweep, whoever commits first: the sweep archives with
 * an UPDATE that changes no key, whose row lock does not conflict with the
 * FOR KEY SHARE a contact holds.  A contact could read a subject as
 * active, wait for the sweep only when it wrote, and write last_contact
 * on the archived row while deciding with the status it had read.  From
 * 1.1 the engine decides on the status of the row it actually wrote
 * (RGPD_STMT_RAISE returns it, src/contact_engine.c).
 *
 * The engine's saved plans are also prepared as the owner of the table
 * with its row security not forced, as they run (src/owner_code.c,
 * rgpd_gate_prepare()): prepared in the owner's own session, under FORCE
 * ROW LEVEL SECURITY, the un-archiving of fresh contacts kept the
 * restricted archive and could not see the archived row it was to bring
 * back.
 * ------------------------------------------------------------------ */

DROP FUNCTION rgpd._sql(regclass, text, regclass, name);
DROP FUNCTION rgpd._contacts(regclass, boolean);
DROP FUNCTION rgpd._excluded(regclass, text);
DROP FUNCTION rgpd._max_cutoff(regclass, text, text);
DROP FUNCTION rgpd._policy_case(regclass, text, text, text);
DROP FUNCTION rgpd._greatest_day(regclass, name[], text, text);
DROP FUNCTION rgpd._day(regclass, name, text, text);
DROP FUNCTION rgpd._differs(text, text);
DROP FUNCTION rgpd._recipients_sql(regclass, integer);
DROP FUNCTION rgpd._erased_value(regclass, name, text);
DROP FUNCTION rgpd._row_key(regclass);
DROP FUNCTION rgpd._in_ids(text, name, text);
