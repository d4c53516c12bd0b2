/*-------------------------------------------------------------------------
 *
 * optin_token.c
 *	  Opt-in by a link in a re-consent e-mail: rgpd.optin_token() issues a
 *	  signed token for one subject row, rgpd.optin(token, origin) records
 *	  the opt-in it proves, for a caller who holds no right on the table.
 *
 *	  A token is base64url (RFC 4648 §5, no padding) of
 *
 *	      version (1 byte) | nonce (8) | expiry (int64, Unix seconds) |
 *	      key (int64) | qualified table name | HMAC-SHA-256 (32)
 *
 *	  the integers big-endian, the HMAC over everything before it, keyed
 *	  with the database's secret (rgpd.optin_secret: 32 bytes from
 *	  pg_strong_random(), readable by the extension's owner only, not
 *	  dumped).  The nonce, in hexadecimal, is the token's id: what the
 *	  journal, rgpd.optin_events and rgpd.optin_tokens_used keep; the
 *	  token itself is stored nowhere.  The table is named, not numbered,
 *	  so that a physical copy of the database honours its tokens.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "nodes/value.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_optin_token);
PG_FUNCTION_INFO_V1(rgpd_optin_by_token);
PG_FUNCTION_INFO_V1(rgpd_random_bytes);

#define TOKEN_VERSION	1
#define TOKEN_NONCE		8
#define TOKEN_MAC		PG_SHA256_DIGEST_LENGTH
#define TOKEN_HEADER	(1 + TOKEN_NONCE + 8 + 8)
#define TOKEN_MAX_NAME	(4 * NAMEDATALEN + 8)	/* two quoted identifiers */
#define TOKEN_MAX_BYTES (TOKEN_HEADER + TOKEN_MAX_NAME + TOKEN_MAC)
#define TOKEN_MAX_CHARS ((TOKEN_MAX_BYTES * 4 + 2) / 3)
#define SECRET_MIN		32
#define VALID_FOR_MAX_DAYS 366

/* What a token says, once its signature is checked. */
typedef struct OptinToken
{
	char		id[2 * TOKEN_NONCE + 1];	/* the nonce, hexadecimal */
	int64		expires;		/* Unix seconds */
	int64		key;
	char	   *subject;		/* qualified, quoted table name */
} OptinToken;

static const char b64url[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding */
static char *
b64url_encode(const uint8 *src, int len)
{
	char	   *out = palloc((len * 4 + 2) / 3 + 1);
	char	   *p = out;
	int			i;

	for (i = 0; i + 2 < len; i += 3)
	{
		uint32		v = (src[i] << 16) | (src[i + 1] << 8) | src[i + 2];

		*p++ = b64url[(v >> 18) & 63];
		*p++ = b64url[(v >> 12) & 63];
		*p++ = b64url[(v >> 6) & 63];
		*p++ = b64url[v & 63];
	}
	if (len - i == 1)
	{
		uint32		v = src[i] << 16;

		*p++ = b64url[(v >> 18) & 63];
		*p++ = b64url[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		uint32		v = (src[i] << 16) | (src[i + 1] << 8);

		*p++ = b64url[(v >> 18) & 63];
		*p++ = b64url[(v >> 12) & 63];
		*p++ = b64url[(v >> 6) & 63];
	}
	*p = '\0';
	return out;
}

/*
 * Decode base64url without padding into dst (room for TOKEN_MAX_BYTES);
 * returns the length, or -1 for anything that is not the one canonical
 * encoding of some bytes (a character outside the alphabet, a length no
 * encoding has, unused bits set): two spellings of one token must not
 * exist, or a changed character would go unnoticed.
 */
static int
b64url_decode(const char *src, int len, uint8 *dst)
{
	uint32		v = 0;
	int			bits = 0;
	int			n = 0;
	int			i;

	if (len % 4 == 1 || len > TOKEN_MAX_CHARS)
		return -1;
	for (i = 0; i < len; i++)
	{
		const char *c = memchr(b64url, src[i], 64);

		if (src[i] == '\0' || c == NULL)
			return -1;
		v = (v << 6) | (uint32) (c - b64url);
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			dst[n++] = (uint8) (v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	if (v != 0)					/* unused bits of the last character */
		return -1;
	return n;
}

static void
put_int64(uint8 *dst, int64 v)
{
	uint64		be = pg_hton64((uint64) v);

	memcpy(dst, &be, 8);
}

static int64
get_int64(const uint8 *src)
{
	uint64		be;

	memcpy(&be, src, 8);
	return (int64) pg_ntoh64(be);
}

/* HMAC-SHA-256 of data with the database's secret (SPI connected). */
static void
token_mac(const uint8 *data, size_t len, uint8 *mac)
{
	bytea	   *secret;
	bool		isnull;
	pg_hmac_ctx *ctx;

	rgpd_execute("SELECT s.key FROM rgpd.optin_secret AS s", 0, NULL, NULL, NULL,
				 rgpd_extension_owner(), false, 2);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this database has no opt-in secret"),
				 errhint("A superuser can create one with rgpd.rotate_optin_secret().")));
	secret = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull || VARSIZE_ANY_EXHDR(secret) < SECRET_MIN)
		elog(ERROR, "pericles_rgpd: the opt-in secret is too short");

	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (pg_hmac_init(ctx, (uint8 *) VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret)) < 0 ||
		pg_hmac_update(ctx, data, len) < 0 ||
		pg_hmac_final(ctx, mac, TOKEN_MAC) < 0)
		elog(ERROR, "pericles_rgpd: could not compute an HMAC: %s", pg_hmac_error(ctx));
	pg_hmac_free(ctx);
	SPI_freetuptable(SPI_tuptable);
}

static void
token_id(const uint8 *nonce, char *id)
{
	int			i;

	for (i = 0; i < TOKEN_NONCE; i++)
		sprintf(id + 2 * i, "%02x", nonce[i]);
}

static TimestampTz
unix_to_timestamptz(int64 seconds)
{
	return (TimestampTz) ((seconds - ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY))
						  * USECS_PER_SEC);
}

static int64
timestamptz_to_unix(TimestampTz t)
{
	return t / USECS_PER_SEC + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

/*
 * Check a token and say what it holds (SPI connected).  Malformed: 22023;
 * a signature that does not match (altered, forged, or from another
 * database): 28000.  Expiry and use are the caller's to check.
 */
static OptinToken *
token_open(const char *token)
{
	int			len = strlen(token);
	uint8		buf[TOKEN_MAX_BYTES + 3];
	uint8		mac[TOKEN_MAC];
	int			n;
	int			diff = 0;
	int			i;
	OptinToken *t;

	n = b64url_decode(token, len, buf);
	if (n < TOKEN_HEADER + 1 + TOKEN_MAC || buf[0] != TOKEN_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed opt-in token"),
				 errdetail("An opt-in token is the text rgpd.optin_token() returned, unchanged."),
				 errhint("Check that the link was not cut or re-encoded on its way.")));

	token_mac(buf, n - TOKEN_MAC, mac);
	/* in constant time: how much of a forged signature matched is no one's business */
	for (i = 0; i < TOKEN_MAC; i++)
		diff |= mac[i] ^ buf[n - TOKEN_MAC + i];
	if (diff != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("opt-in token is not valid: its signature does not match"),
				 errdetail("The token was altered, forged, or issued by another database (or before its secret was replaced)."),
				 errhint("Send the person a new link made with rgpd.optin_token().")));

	t = palloc0(sizeof(OptinToken));
	token_id(buf + 1, t->id);
	t->expires = get_int64(buf + 1 + TOKEN_NONCE);
	t->key = get_int64(buf + 1 + TOKEN_NONCE + 8);
	t->subject = pnstrdup((char *) buf + TOKEN_HEADER, n - TOKEN_MAC - TOKEN_HEADER);
	return t;
}

/*
 * rgpd.optin_token(subject regclass, id bigint, valid_for interval
 * DEFAULT '60 days') RETURNS text: a token for the link of a re-consent
 * e-mail, with which whoever holds it records one opt-in of that row,
 * before it expires, with rgpd.optin(token, origin).  Managers, and the
 * roles a superuser grants EXECUTE (the mailing job); the caller must see
 * the row (an archived one: a manager, or the table's owner).
 */
Datum
rgpd_optin_token(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int64		id;
	Interval   *valid_for;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz expires;
	RgpdSubject *sub;
	RgpdLocked *row;
	char	   *name;
	int			namelen;
	uint8	   *buf;
	int			n;
	int			nest;
	char	   *token;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject, id and valid_for of an opt-in token must not be NULL")));
	relid = PG_GETARG_OID(0);
	id = PG_GETARG_INT64(1);
	valid_for = PG_GETARG_INTERVAL_P(2);
	expires = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													  TimestampTzGetDatum(now),
													  IntervalPGetDatum(valid_for)));
	if (TIMESTAMP_NOT_FINITE(expires) || expires <= now ||
		expires > now + (int64) VALID_FOR_MAX_DAYS * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_for of an opt-in token must be positive and at most %d days",
						VALID_FOR_MAX_DAYS),
				 errhint("The default, 60 days, suits a re-consent e-mail.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(relid, false);
	rgpd_require_reads(sub, "issue opt-in tokens for");
	nest = rgpd_pin_search_path();
	/* the row as the caller may see it: unknown ids are P0002 */
	row = rgpd_read_subjects(sub, &id, 1, 0, (Datum) 0);
	if (row->status[0] == RGPD_STATUS_ANONYMISED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("row " INT64_FORMAT " of table %s is anonymised", id, sub->relname),
				 errdetail("An anonymised person cannot opt in again.")));

	name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
	namelen = strlen(name);
	if (namelen > TOKEN_MAX_NAME)
		elog(ERROR, "pericles_rgpd: table name too long for an opt-in token");
	n = TOKEN_HEADER + namelen + TOKEN_MAC;
	buf = palloc(n);
	buf[0] = TOKEN_VERSION;
	if (!pg_strong_random(buf + 1, TOKEN_NONCE))
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not generate a random number")));
	put_int64(buf + 1 + TOKEN_NONCE, timestamptz_to_unix(expires));
	put_int64(buf + 1 + TOKEN_NONCE + 8, id);
	memcpy(buf + TOKEN_HEADER, name, namelen);
	token_mac(buf, n - TOKEN_MAC, buf + n - TOKEN_MAC);
	token = b64url_encode(buf, n);

	rgpd_unpin_search_path(nest);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(token));
}

/*
 * rgpd.optin(token text, origin text) RETURNS bigint: the person clicked
 * the link.  Needs no right on the table: the token is the proof.  Refused
 * when malformed (22023), not signed by this database (28000), expired or
 * already used (55000); otherwise the opt-in is recorded as
 * rgpd.optin(subject, id, origin) records it, as the table's owner, with
 * the token's id (never the token) in its origin and journal line.
 * Returns the opt-in event's id.
 */
Datum
rgpd_optin_by_token(PG_FUNCTION_ARGS)
{
	char	   *token = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *origin = text_to_cstring(PG_GETARG_TEXT_PP(1));
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	OptinToken *t;
	List	   *names;
	Oid			nspid;
	Oid			relid = InvalidOid;
	RgpdSubject *sub;
	char	   *stored_origin;
	char	   *caller;
	Oid			argtypes[3] = {TEXTOID, TIMESTAMPTZOID, INT8OID};
	Datum		values[3];
	Oid			save_user;
	int			save_sec;
	int			gucnest;
	int			nest;
	int64		event;

	rgpd_check_optin_origin(origin);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	nest = rgpd_pin_search_path();
	t = token_open(token);
	if (unix_to_timestamptz(t->expires) <= now)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("opt-in token %s has expired", t->id),
				 errdetail("It was valid until %s.",
						   timestamptz_to_str(unix_to_timestamptz(t->expires))),
				 errhint("Send the person a new link made with rgpd.optin_token().")));

	/* by name, without the caller's rights on the schema */
	names = stringToQualifiedNameList(t->subject);
	if (list_length(names) == 2 &&
		OidIsValid(nspid = get_namespace_oid(strVal(linitial(names)), true)))
		relid = get_relname_relid(strVal(lsecond(names)), nspid);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table %s of opt-in token %s no longer exists", t->subject, t->id)));
	sub = rgpd_subject(relid, false);

	/*
	 * Used once.  Used tokens are kept until they expire (then the expiry
	 * refuses them); two clicks at once: the second waits for the first
	 * and finds the token used.
	 */
	values[0] = CStringGetTextDatum(t->id);
	values[1] = TimestampTzGetDatum(unix_to_timestamptz(t->expires));
	rgpd_execute("DELETE FROM rgpd.optin_tokens_used AS u"
				 " WHERE u.expires_at OPERATOR(pg_catalog.<) pg_catalog.now()",
				 0, NULL, NULL, NULL, rgpd_extension_owner(), true, 0);
	rgpd_execute("INSERT INTO rgpd.optin_tokens_used (token_id, expires_at) VALUES ($1, $2)"
				 " ON CONFLICT (token_id) DO NOTHING RETURNING 1",
				 2, argtypes, values, NULL, rgpd_extension_owner(), true, 0);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("opt-in token %s has already been used", t->id),
				 errdetail("Its opt-in was recorded; a token records one opt-in.")));

	stored_origin = psprintf("%s [token %s]", origin, t->id);
	rgpd_check_text_length(stored_origin, "origin of an opt-in");

	/*
	 * As the table's owner, as the application's own role records an
	 * opt-in: inside a security-restricted operation whose setting changes
	 * end with it, since the owner's code (triggers, policies) runs there
	 * and the caller may be anybody.
	 */
	caller = rgpd_current_user_name();
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(sub->owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	gucnest = NewGUCNestLevel();
	event = rgpd_record_optin(sub, t->key, stored_origin, TimestampTzGetDatum(now),
							  t->id, caller);
	AtEOXact_GUC(false, gucnest);
	SetUserIdAndSecContext(save_user, save_sec);

	values[2] = Int64GetDatum(event);
	rgpd_execute("UPDATE rgpd.optin_tokens_used AS u SET optin_id = $3"
				 " WHERE u.token_id OPERATOR(pg_catalog.=) $1",
				 3, argtypes, values, NULL, rgpd_extension_owner(), true, 0);
	rgpd_unpin_search_path(nest);
	SPI_finish();
	PG_RETURN_INT64(event);
}

/*
 * rgpd._random_bytes(n integer) RETURNS bytea: n bytes from
 * pg_strong_random(), for the opt-in secret.
 */
Datum
rgpd_random_bytes(PG_FUNCTION_ARGS)
{
	int32		n = PG_GETARG_INT32(0);
	bytea	   *result;

	if (n < 1 || n > 1024)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of random bytes must be between 1 and 1024")));
	result = palloc(VARHDRSZ + n);
	SET_VARSIZE(result, VARHDRSZ + n);
	if (!pg_strong_random(VARDATA(result), n))
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not generate a random number")));
	PG_RETURN_BYTEA_P(result);
}
