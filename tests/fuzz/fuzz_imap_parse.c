/* fuzz_imap_parse.c - libFuzzer target for the IMAP response parser and
 * the helpers that read server data (dates, literal markers, UTF-7). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_parse.h"
#include "imap_utf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	uint64_t n;
	(void)imap_line_literal(buf, size, &n);
	int64_t t;
	(void)imap_parse_date(buf, size, &t);
	const char *set = buf;
	uint32_t cur = 0, last = 0;
	for (int i = 0; i < 1000 && imap_uidset_next(&set, &cur, &last); i++)
		;
	struct imap_resp r;
	if (imap_parse_response(buf, size, &r) == 0) {
		for (size_t i = 0; i < r.nargs; i++) {
			(void)imap_fetch_item(&r.args[i], "BODY[]");
			if (r.args[i].type != IV_LIST && r.args[i].len < 4096) {
				char *s = strndup(r.args[i].s, r.args[i].len);
				free(imap_utf7_decode(s));
				free(imap_utf7_encode(s));
				free(s);
			}
		}
	}
	imap_resp_free(&r);
	free(buf);
	return 0;
}
