/* tst_imap_parse.c - table tests for the IMAP response parser. */
#include "imap_parse.h"

#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* Parses a copy of text (the parser writes into its buffer). */
static int parse(const char *text, size_t len, struct imap_resp *r, char **buf)
{
	*buf = malloc(len + 1);
	memcpy(*buf, text, len);
	(*buf)[len] = '\0';
	return imap_parse_response(*buf, len, r);
}

static void test_tagged(void)
{
	struct imap_resp r;
	char *b;
	const char *t = "M12 OK [APPENDUID 38505 3955] APPEND completed";
	check(parse(t, strlen(t), &r, &b) == 0, "tagged OK parses");
	check(r.kind == RESP_TAGGED && !strcmp(r.tag, "M12") && r.cond == COND_OK, "tag and condition");
	check(r.code && !strcmp(r.code, "APPENDUID") && !strcmp(r.code_arg, "38505 3955"), "response code");
	check(!strcmp(r.text, "APPEND completed"), "text");
	imap_resp_free(&r);
	free(b);

	t = "M3 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)";
	check(parse(t, strlen(t), &r, &b) == 0 && r.cond == COND_NO && !strcmp(r.code, "OVERQUOTA"),
	      "NO with code");
	imap_resp_free(&r);
	free(b);

	t = "M4 no lower case condition";
	check(parse(t, strlen(t), &r, &b) == 0 && r.cond == COND_NO && r.code == NULL, "lower-case NO");
	imap_resp_free(&r);
	free(b);
}

static void test_untagged(void)
{
	struct imap_resp r;
	char *b;
	const char *t = "* 172 EXISTS";
	check(parse(t, strlen(t), &r, &b) == 0 && r.has_num && r.num == 172 && !strcmp(r.kw, "EXISTS"),
	      "EXISTS");
	imap_resp_free(&r);
	free(b);

	t = "* OK [UIDVALIDITY 3857529045] UIDs valid";
	check(parse(t, strlen(t), &r, &b) == 0 && r.cond == COND_OK && !strcmp(r.code, "UIDVALIDITY") &&
	      !strcmp(r.code_arg, "3857529045"), "untagged OK with code");
	imap_resp_free(&r);
	free(b);

	t = "* LIST (\\HasNoChildren \\Sent) \".\" \"Sent \\\"Items\\\"\"";
	check(parse(t, strlen(t), &r, &b) == 0 && !strcmp(r.kw, "LIST") && r.nargs == 3, "LIST parses");
	check(r.args[0].type == IV_LIST && r.args[0].n == 2, "LIST attributes");
	check(r.args[2].type == IV_STRING && !strcmp(r.args[2].s, "Sent \"Items\""), "quoted unescaped");
	imap_resp_free(&r);
	free(b);

	t = "* LIST () NIL INBOX";
	check(parse(t, strlen(t), &r, &b) == 0 && r.args[1].type == IV_NIL && r.args[2].type == IV_ATOM,
	      "NIL delimiter, atom name");
	imap_resp_free(&r);
	free(b);
}

static void test_fetch(void)
{
	struct imap_resp r;
	char *b;
	static const char t[] = "* 12 FETCH (UID 5 FLAGS (\\Seen $Label1) INTERNALDATE "
	                        "\"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 44827 "
	                        "BODY[HEADER.FIELDS (SUBJECT)] {12}\r\nSubject: a\r\n)";
	check(parse(t, sizeof t - 1, &r, &b) == 0, "FETCH with literal parses");
	const struct imap_val *att = &r.args[0];
	uint64_t v = 0;
	check(imap_val_u64(imap_fetch_item(att, "uid"), UINT32_MAX, &v) && v == 5, "UID item");
	check(imap_val_u64(imap_fetch_item(att, "RFC822.SIZE"), UINT64_MAX, &v) && v == 44827, "size item");
	const struct imap_val *fl = imap_fetch_item(att, "FLAGS");
	check(fl && fl->type == IV_LIST && fl->n == 2 && imap_val_is(&fl->items[1], "$label1"), "flags");
	const struct imap_val *h = imap_fetch_item(att, "BODY[HEADER.FIELDS (SUBJECT)]");
	check(h && h->type == IV_STRING && h->len == 12 && !memcmp(h->s, "Subject: a\r\n", 12),
	      "bracketed item name and literal");
	const struct imap_val *d = imap_fetch_item(att, "INTERNALDATE");
	int64_t when = 0;
	check(d && imap_parse_date(d->s, d->len, &when) && when == 837596665, "INTERNALDATE to epoch");
	imap_resp_free(&r);
	free(b);

	/* A literal with NUL bytes and CRLF inside. */
	static const char t2[] = "* 1 FETCH (BODY[] {5}\r\na\0\r\nb UID 9)";
	check(parse(t2, sizeof t2 - 1, &r, &b) == 0, "literal with NUL parses");
	h = imap_fetch_item(&r.args[0], "BODY[]");
	check(h && h->len == 5 && h->s[1] == '\0', "literal keeps NUL");
	imap_resp_free(&r);
	free(b);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"", "M1", "M1 MAYBE done", "* 1 FETCH (UID 1", "* 1 FETCH (BODY[] {10}\r\nshort)",
		"* 1 FETCH (BODY[] {5)", "* LIST (\\X \"unterminated", "* 99999999999 EXISTS",
		"* 1 FETCH (BODY[HEADER x)",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct imap_resp r;
		char *b;
		check(parse(bad[i], strlen(bad[i]), &r, &b) < 0, "malformed #%zu rejected", i);
		imap_resp_free(&r);
		free(b);
	}
	/* Deep nesting is bounded. */
	size_t depth = 200;
	char *deep = malloc(depth * 2 + 16);
	strcpy(deep, "* X ");
	for (size_t i = 0; i < depth; i++)
		strcat(deep, "(");
	for (size_t i = 0; i < depth; i++)
		strcat(deep, ")");
	struct imap_resp r;
	char *b;
	check(parse(deep, strlen(deep), &r, &b) < 0, "nesting deeper than the limit rejected");
	imap_resp_free(&r);
	free(b);
	free(deep);
}

static void test_helpers(void)
{
	uint64_t n = 0;
	check(imap_line_literal("* 1 FETCH (BODY[] {123}", 23, &n) && n == 123, "literal marker");
	check(imap_line_literal("M1 APPEND x {7+}", 16, &n) && n == 7, "LITERAL+ marker");
	check(!imap_line_literal("* OK {no}", 9, &n), "not a literal");
	int64_t t;
	check(!imap_parse_date("32-Jan-2020 00:00:00 +0000", 26, &t), "bad day rejected");
	check(imap_parse_date(" 1-Jan-1970 00:00:00 +0000", 26, &t) && t == 0, "space-padded day");
	char buf[64];
	imap_format_date(837596665, -420, buf);
	check(!strcmp(buf, "17-Jul-1996 02:44:25 -0700"), "format date: %s", buf);
}

static void test_uidset(void)
{
	static const struct { const char *set; const char *want; } cases[] = {
		{ "5", "5" }, { "5:7", "5 6 7" }, { "7:5", "5 6 7" }, { "3,9:10,12", "3 9 10 12" },
		{ "", "" }, { "x", "" }, { "4:", "" }, { "0", "" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *p = cases[i].set;
		uint32_t cur = 0, last = 0, u;
		char got[64] = "";
		size_t k = 0;
		while ((u = imap_uidset_next(&p, &cur, &last)) != 0 && k < sizeof got - 12)
			k += (size_t)snprintf(got + k, sizeof got - k, "%s%u", k ? " " : "", u);
		check(!strcmp(got, cases[i].want), "uid-set \"%s\" -> \"%s\" (got \"%s\")", cases[i].set,
		      cases[i].want, got);
	}
}

int main(void)
{
	test_uidset();
	test_tagged();
	test_untagged();
	test_fetch();
	test_malformed();
	test_helpers();
	return tap_done();
}
