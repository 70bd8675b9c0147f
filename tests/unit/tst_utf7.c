/* tst_utf7.c - table tests for IMAP modified UTF-7 (src/imap_utf7.c).
 * Expected encodings were cross-checked with `doveadm mailbox mutf7`.
 * Prints one "ok N - ..." / "not ok N - ..." line per case; exits 1 on any
 * failure. */
#include "imap_utf7.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_run, n_fail;

static void report(int pass, const char *what, const char *in,
		   const char *got, const char *want)
{
	n_run++;
	if (pass) {
		printf("ok %d - %s \"%s\"\n", n_run, what, in);
		return;
	}
	n_fail++;
	printf("not ok %d - %s \"%s\": got %s%s%s, want %s%s%s\n", n_run, what, in,
	       got ? "\"" : "", got ? got : "NULL", got ? "\"" : "",
	       want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
}

static int same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Valid pairs: both directions and the round trip must hold. */
static const struct {
	const char *utf8;
	const char *mutf7;
} pairs[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "ä", "&AOQ-" },
	{ "ää", "&AOQA5A-" },
	{ "日本語", "&ZeVnLIqe-" },
	{ "&", "&-" },
	{ "a&b", "a&-b" },
	{ "&&", "&-&-" },
	{ "ä&", "&AOQ-&-" },
	{ "😀", "&2D3eAA-" },
	{ "x😀y", "x&2D3eAA-y" },
	{ "Entwürfe", "Entw&APw-rfe" },
	{ "ÄÖÜ äöü ß", "&AMQA1gDc- &AOQA9gD8- &AN8-" },
	{ "a€b", "a&IKw-b" },
	{ "~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "My \"quoted\" box", "My \"quoted\" box" },
	{ "back\\slash", "back\\slash" },
	{ "tab\there", "tab&AAk-here" },
	{ "del\x7f", "del&AH8-" },
	{ "-&-", "-&--" },
	{ "Sent Items/2024 ~ \"x\"", "Sent Items/2024 ~ \"x\"" },
	{ "\xf4\x8f\xbf\xbf", "&2,,f,w-" },           /* U+10FFFF */
	{ "\xef\xbf\xbd", "&,,0-" },                   /* U+FFFD */
};

/* Invalid UTF-8 for the encoder. */
static const char *const bad_utf8[] = {
	"\xc3",                 /* truncated */
	"a\xc3(",               /* bad continuation */
	"\x80",                 /* stray continuation */
	"\xc0\xaf",             /* overlong '/' */
	"\xe0\x80\xaf",         /* overlong '/' */
	"\xed\xa0\x80",         /* UTF-8 encoded surrogate U+D800 */
	"\xf4\x90\x80\x80",     /* U+110000 */
	"\xff",
	"ok\xe6\x97",           /* truncated at the end */
};

/* Not canonical modified UTF-7 for the decoder. */
static const struct {
	const char *in;
	const char *why;
} bad_mutf7[] = {
	{ "&AOQ", "unterminated run" },
	{ "&", "lone '&' at the end" },
	{ "a&", "lone '&' at the end" },
	{ "&AGE-", "printable ASCII 'a' encoded" },
	{ "&ACY-", "'&' encoded" },
	{ "&2D3-", "lone high surrogate" },
	{ "&2D0AQQ-", "high surrogate followed by a non-surrogate" },
	{ "&3gA-", "lone low surrogate" },
	{ "&2D3eAA-&2D3eAA-", "adjacent runs" },
	{ "&AOQ-&AOQ-", "adjacent runs" },
	{ "&AOR-", "non-zero padding bits" },
	{ "&AOQA-", "surplus base64 character" },
	{ "&AA-", "run too short for one character" },
	{ "&AOQ=-", "'=' is not in the alphabet" },
	{ "&AOQ/-", "'/' is not in the alphabet" },
	{ "&&-", "'&' inside a run" },
	{ "&AAA-", "U+0000" },
	{ "\xc3\xa4", "raw 8-bit UTF-8" },
	{ "a\tb", "raw control character" },
	{ "a\x7f", "raw DEL" },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char *enc = imap_utf7_encode(pairs[i].utf8);
		report(same(enc, pairs[i].mutf7), "encode", pairs[i].utf8,
		       enc, pairs[i].mutf7);
		char *dec = imap_utf7_decode(pairs[i].mutf7);
		report(same(dec, pairs[i].utf8), "decode", pairs[i].mutf7,
		       dec, pairs[i].utf8);
		char *back = enc ? imap_utf7_decode(enc) : NULL;
		report(same(back, pairs[i].utf8), "round trip", pairs[i].utf8,
		       back, pairs[i].utf8);
		free(enc);
		free(dec);
		free(back);
	}

	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		char *enc = imap_utf7_encode(bad_utf8[i]);
		/* Print the bytes in hex: they are invalid on a terminal too. */
		char hex[64] = "";
		for (size_t j = 0; bad_utf8[i][j] && j < 16; j++)
			snprintf(hex + 3 * j, sizeof(hex) - 3 * j, "%02x ",
				 (unsigned char)bad_utf8[i][j]);
		report(enc == NULL, "encode rejects invalid UTF-8", hex, enc, NULL);
		free(enc);
	}

	for (size_t i = 0; i < sizeof(bad_mutf7) / sizeof(bad_mutf7[0]); i++) {
		char *dec = imap_utf7_decode(bad_mutf7[i].in);
		char what[96];
		snprintf(what, sizeof(what), "decode rejects (%s)", bad_mutf7[i].why);
		report(dec == NULL, what, bad_mutf7[i].in, dec, NULL);
		free(dec);
	}

	/* Every BMP code point that needs encoding, plus the edges of the
	 * supplementary planes, must survive a round trip. */
	int rt_fail = 0;
	for (unsigned long cp = 1; cp <= 0x10FFFF; cp++) {
		if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp > 0xFFFF && cp < 0x10FFF0 &&
		    (cp & 0xFFF) != 0))
			continue;
		unsigned char u[8];
		size_t n;
		if (cp < 0x80) {
			u[0] = (unsigned char)cp; n = 1;
		} else if (cp < 0x800) {
			u[0] = (unsigned char)(0xC0 | (cp >> 6));
			u[1] = (unsigned char)(0x80 | (cp & 0x3F)); n = 2;
		} else if (cp < 0x10000) {
			u[0] = (unsigned char)(0xE0 | (cp >> 12));
			u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
			u[2] = (unsigned char)(0x80 | (cp & 0x3F)); n = 3;
		} else {
			u[0] = (unsigned char)(0xF0 | (cp >> 18));
			u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
			u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
			u[3] = (unsigned char)(0x80 | (cp & 0x3F)); n = 4;
		}
		/* Surround with ASCII so run boundaries are exercised. */
		char in[16];
		in[0] = 'a';
		memcpy(in + 1, u, n);
		in[n + 1] = 'z';
		in[n + 2] = '\0';
		char *enc = imap_utf7_encode(in);
		char *dec = enc ? imap_utf7_decode(enc) : NULL;
		if (!same(dec, in)) {
			if (rt_fail++ < 5)
				printf("# round trip failed for U+%04lX\n", cp);
		}
		free(enc);
		free(dec);
	}
	report(rt_fail == 0, "round trip of all code points", "U+0001..U+10FFFF",
	       rt_fail ? "failures" : NULL, NULL);

	printf("1..%d\n", n_run);
	printf("# %d passed, %d failed\n", n_run - n_fail, n_fail);
	return n_fail ? 1 : 0;
}
