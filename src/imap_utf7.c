/* imap_utf7.c - IMAP modified UTF-7 (RFC 3501 section 5.1.3).
 *
 * Printable US-ASCII (0x20-0x7e) stands for itself, except '&' which is
 * written "&-".  Everything else is UTF-16BE, base64-encoded with ','
 * instead of '/', no '=' padding, between '&' and '-'.
 *
 * The decoder insists on the one canonical form: a folder name that could be
 * spelled two ways could map two source folders onto one target folder. */
#include "imap_utf7.h"

#include "common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static bool is_direct(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* Decodes one UTF-8 sequence at *p, advancing it.  Returns the code point,
 * or UINT32_MAX for anything RFC 3629 forbids: stray continuation bytes,
 * truncation, overlong forms, surrogates, values above U+10FFFF. */
static uint32_t utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	uint32_t c = s[0];
	size_t n;
	uint32_t min;

	if (c < 0x80) {
		*p = s + 1;
		return c;
	} else if (c >= 0xC2 && c <= 0xDF) {
		n = 1; min = 0x80; c &= 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 2; min = 0x800; c &= 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 3; min = 0x10000; c &= 0x07;
	} else {
		return UINT32_MAX;   /* continuation byte, C0/C1, F5-FF */
	}
	for (size_t i = 1; i <= n; i++) {
		if ((s[i] & 0xC0) != 0x80)   /* also stops at the NUL */
			return UINT32_MAX;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return UINT32_MAX;
	*p = s + n + 1;
	return c;
}

static void utf8_put(struct sbuf *b, uint32_t c)
{
	if (c < 0x80) {
		sb_addc(b, (char)c);
	} else if (c < 0x800) {
		sb_addc(b, (char)(0xC0 | (c >> 6)));
		sb_addc(b, (char)(0x80 | (c & 0x3F)));
	} else if (c < 0x10000) {
		sb_addc(b, (char)(0xE0 | (c >> 12)));
		sb_addc(b, (char)(0x80 | ((c >> 6) & 0x3F)));
		sb_addc(b, (char)(0x80 | (c & 0x3F)));
	} else {
		sb_addc(b, (char)(0xF0 | (c >> 18)));
		sb_addc(b, (char)(0x80 | ((c >> 12) & 0x3F)));
		sb_addc(b, (char)(0x80 | ((c >> 6) & 0x3F)));
		sb_addc(b, (char)(0x80 | (c & 0x3F)));
	}
}

/* Bit accumulator of a base64 run; at most 16 + 5 bits are ever pending. */
struct b64 {
	uint32_t bits;
	unsigned nbits;
};

static void b64_put16(struct sbuf *out, struct b64 *st, uint32_t unit)
{
	st->bits = (st->bits << 16) | unit;
	st->nbits += 16;
	while (st->nbits >= 6) {
		st->nbits -= 6;
		sb_addc(out, b64_alphabet[(st->bits >> st->nbits) & 0x3F]);
	}
	st->bits &= (1u << st->nbits) - 1;
}

/* Ends a run: pads the last sextet with zero bits, then the '-'. */
static void b64_close(struct sbuf *out, struct b64 *st)
{
	if (st->nbits > 0)
		sb_addc(out, b64_alphabet[(st->bits << (6 - st->nbits)) & 0x3F]);
	sb_addc(out, '-');
	st->bits = 0;
	st->nbits = 0;
}

char *imap_utf7_encode(const char *utf8)
{
	if (!utf8)
		return NULL;

	struct sbuf out;
	struct b64 st = { 0, 0 };
	bool in_run = false;
	const unsigned char *p = (const unsigned char *)utf8;

	sb_init(&out);
	while (*p) {
		uint32_t c = utf8_next(&p);
		if (c == UINT32_MAX) {
			sb_free(&out);
			return NULL;
		}
		if (is_direct(c)) {
			if (in_run) {
				b64_close(&out, &st);
				in_run = false;
			}
			if (c == '&')
				sb_adds(&out, "&-");
			else
				sb_addc(&out, (char)c);
			continue;
		}
		if (!in_run) {
			sb_addc(&out, '&');
			in_run = true;
		}
		if (c >= 0x10000) {
			c -= 0x10000;
			b64_put16(&out, &st, 0xD800 | (c >> 10));
			b64_put16(&out, &st, 0xDC00 | (c & 0x3FF));
		} else {
			b64_put16(&out, &st, c);
		}
	}
	if (in_run)
		b64_close(&out, &st);
	return out.data;
}

/* Decodes the base64 run starting after '&' at *pp, up to and including
 * its '-'.  Returns false when the run is not canonical modified UTF-7. */
static bool decode_run(const char **pp, struct sbuf *out)
{
	const char *p = *pp;
	uint32_t bits = 0;
	unsigned nbits = 0;
	uint32_t high = 0;      /* pending high surrogate, 0 when none */

	for (;; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '-')
			break;
		int v = b64_value(ch);
		if (v < 0)
			return false;   /* includes the NUL of an unterminated run */
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xFFFF;
		bits &= (1u << nbits) - 1;

		if (high) {
			if (unit < 0xDC00 || unit > 0xDFFF)
				return false;           /* high not followed by low */
			utf8_put(out, 0x10000 + ((high - 0xD800) << 10) +
				 (unit - 0xDC00));
			high = 0;
		} else if (unit >= 0xD800 && unit <= 0xDBFF) {
			high = unit;
		} else if (unit >= 0xDC00 && unit <= 0xDFFF) {
			return false;                   /* lone low surrogate */
		} else if (unit == 0 || is_direct(unit)) {
			/* NUL would cut the C string; printable ASCII must
			 * represent itself. */
			return false;
		} else {
			utf8_put(out, unit);
		}
	}
	/* A canonical encoder pads with fewer than 6 zero bits; anything else
	 * is a different spelling of the same name (or garbage). */
	if (high || nbits >= 6 || bits != 0)
		return false;
	*pp = p + 1;
	return true;
}

char *imap_utf7_decode(const char *mutf7)
{
	if (!mutf7)
		return NULL;

	struct sbuf out;
	const char *p = mutf7;
	bool after_run = false;  /* the previous token was a base64 run */

	sb_init(&out);
	while (*p) {
		unsigned char c = (unsigned char)*p;
		if (!is_direct(c))
			goto bad;       /* raw 8-bit or control bytes */
		if (c != '&') {
			sb_addc(&out, (char)c);
			p++;
			after_run = false;
			continue;
		}
		p++;
		if (*p == '-') {
			sb_addc(&out, '&');
			p++;
			after_run = false;
			continue;
		}
		/* "&AOQ-&AOQ-" decodes fine but an encoder writes one run
		 * "&AOQA5A-"; Dovecot rejects the split form too. */
		if (after_run)
			goto bad;
		if (!decode_run(&p, &out))
			goto bad;
		after_run = true;
	}
	return out.data;
bad:
	sb_free(&out);
	return NULL;
}
