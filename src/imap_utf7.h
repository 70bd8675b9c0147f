/* imap_utf7.h - IMAP "modified UTF-7" mailbox names (RFC 3501 section
 * 5.1.3), the encoding of folder names on the wire for servers that have
 * not enabled UTF8=ACCEPT.
 *
 * Both functions are strict: they return NULL for input that is not valid
 * (so a name is never silently mangled into another folder's name) and
 * otherwise a malloc'd string the caller frees.  Thread-safe. */
#ifndef MF_IMAP_UTF7_H
#define MF_IMAP_UTF7_H

/* UTF-8 -> modified UTF-7.  NULL on invalid UTF-8 (overlong forms,
 * surrogates, code points above U+10FFFF, truncated sequences). */
char *imap_utf7_encode(const char *utf8);

/* Modified UTF-7 -> UTF-8.  NULL on anything a conforming encoder cannot
 * produce: bytes outside printable ASCII, an unterminated '&', characters
 * outside the modified base64 alphabet, non-zero or surplus padding bits,
 * printable ASCII or U+0000 in base64, unpaired UTF-16 surrogates. */
char *imap_utf7_decode(const char *mutf7);

#endif
