/* tst_csv.c - the CSV reader: quotes, doubled quotes, commas and line
 * breaks inside quotes, CRLF, a byte order mark, and malformed input. */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

#include "tap.h"

static int next(struct csv *c, char ***f, size_t *n, int *line)
{
	struct err e;
	return csv_next(c, f, n, line, &e);
}

int main(void)
{
	static const char text[] =
		"\xEF\xBB\xBFlogin,display_name,size\r\n"
		"alice,\"Smith, Ann \"\"Annie\"\"\",100\r\n"
		"\n"
		"bob,Bj\xC3\xB6rk,\r\n"
		"carol,\"two\nlines\",3";
	struct csv c;
	char **f;
	size_t n;
	int line;
	csv_init(&c, text, strlen(text));
	check(next(&c, &f, &n, &line) == 1 && n == 3 && !strcmp(f[0], "login") && line == 1,
	      "header (byte order mark dropped)");
	csv_fields_free(f, n);
	check(next(&c, &f, &n, &line) == 1 && n == 3 && !strcmp(f[1], "Smith, Ann \"Annie\"") && line == 2,
	      "quoted comma and doubled quotes");
	csv_fields_free(f, n);
	check(next(&c, &f, &n, &line) == 1 && n == 3 && !strcmp(f[1], "Bj\xC3\xB6rk") && !*f[2] && line == 4,
	      "UTF-8 kept, empty last field, blank line skipped");
	csv_fields_free(f, n);
	check(next(&c, &f, &n, &line) == 1 && n == 3 && !strcmp(f[1], "two\nlines") && !strcmp(f[2], "3"),
	      "line break inside quotes; no final newline");
	csv_fields_free(f, n);
	check(next(&c, &f, &n, &line) == 0, "end");

	static const char *const bad[] = { "a,\"open\n", "a,\"x\"y\n", "a,b\"c\n" };
	for (size_t i = 0; i < 3; i++) {
		struct err e;
		csv_init(&c, bad[i], strlen(bad[i]));
		check(csv_next(&c, &f, &n, &line, &e) == -1 && e.code == ST_CONFIG && line == 1 && !f,
		      "malformed %zu refused: %s", i, e.msg);
	}
	return tap_done();
}
