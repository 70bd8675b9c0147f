/* imap_parse.h - pure parser for one IMAP server response (RFC 3501/9051).
 *
 * Input is one complete response: the line and any literals inline exactly
 * as they came off the wire ("* 1 FETCH (BODY[] {3}\r\nabc)"), without the
 * final CRLF.  The parser never reads past len, never allocates for string
 * contents (values point into buf) and unescapes quoted strings in place,
 * which is why buf is not const.  It is fuzzed (tests/fuzz).
 *
 * Ownership: values point into the caller's buf, which must outlive the
 * response; imap_resp_free releases only the value arrays.  No threads, no
 * I/O, no globals. */
#ifndef MF_IMAP_PARSE_H
#define MF_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum imap_vtype {
	IV_ATOM,     /* includes numbers and bracketed names like BODY[HEADER] */
	IV_STRING,   /* quoted or literal; may contain NUL when literal */
	IV_NIL,
	IV_LIST,
};

struct imap_val {
	enum imap_vtype type;
	const char *s;          /* ATOM/STRING: bytes (NUL-terminated for quoted/atom) */
	size_t len;
	struct imap_val *items; /* LIST: owned array */
	size_t n;
};

enum imap_kind { RESP_UNTAGGED, RESP_TAGGED, RESP_CONTINUATION };
enum imap_cond { COND_NONE, COND_OK, COND_NO, COND_BAD, COND_BYE, COND_PREAUTH };

struct imap_resp {
	enum imap_kind kind;
	const char *tag;        /* TAGGED: the tag (NUL-terminated in buf) */
	enum imap_cond cond;    /* status responses (tagged, or untagged OK/NO/BAD/BYE) */
	bool has_num;
	uint32_t num;           /* "* 23 EXISTS": 23 */
	const char *kw;         /* untagged keyword, upper-cased in place: FETCH, LIST, OK ... */
	struct imap_val *args;  /* data after the keyword (not for status responses) */
	size_t nargs;
	const char *code;       /* "[APPENDUID 38505 3955]" -> "APPENDUID"; NULL when none */
	const char *code_arg;   /* -> "38505 3955"; "" when the code has no argument */
	const char *text;       /* human-readable text of a status/continuation response */
};

/* Parses buf[0..len).  Returns 0, or -1 when the response is malformed (the
 * response is then left empty).  Always call imap_resp_free afterwards. */
int imap_parse_response(char *buf, size_t len, struct imap_resp *r);
void imap_resp_free(struct imap_resp *r);

/* In a FETCH attribute list, the value that follows the item named name
 * (case-insensitive, e.g. "UID", "FLAGS", "BODY[]"); NULL when absent. */
const struct imap_val *imap_fetch_item(const struct imap_val *list, const char *name);

/* Unsigned decimal of an ATOM value; false when not a valid number <= max. */
bool imap_val_u64(const struct imap_val *v, uint64_t max, uint64_t *out);
/* Case-insensitive compare of an ATOM value with s. */
bool imap_val_is(const struct imap_val *v, const char *s);

/* Parses an INTERNALDATE ("17-Jul-1996 02:44:25 -0700") to seconds since
 * the epoch; false when malformed. */
bool imap_parse_date(const char *s, size_t len, int64_t *out);
/* Formats t as an INTERNALDATE in UTC offset tz_min (minutes east). buf >= 64. */
void imap_format_date(int64_t t, int tz_min, char *buf);

/* Where a literal marker ends a line ("... {123}" or "{123+}"): returns true
 * and the size; line excludes CRLF. */
bool imap_line_literal(const char *line, size_t len, uint64_t *size);

/* Walks an APPENDUID/COPYUID uid-set ("5", "5:9", "5:9,12") in order: each
 * call returns the next UID, 0 when the set is used up or malformed.  *p
 * starts at the set; *cur and *last start at 0 and keep the position. */
uint32_t imap_uidset_next(const char **p, uint32_t *cur, uint32_t *last);

#endif
