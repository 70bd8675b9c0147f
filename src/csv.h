/* csv.h - reads comma-separated records (RFC 4180): fields separated by
 * commas, optionally in double quotes, inside which commas and line breaks
 * are data and a doubled quote is one quote.  LF or CRLF line ends; bytes
 * are passed through (UTF-8 stays UTF-8).
 *
 * Memory: the reader borrows the text; the fields of a record are owned by
 * the caller (csv_fields_free).  Threads: one reader per thread. */
#ifndef MF_CSV_H
#define MF_CSV_H

#include "common.h"

struct csv {
	const char *p, *end;
	int line;                   /* line where the next record starts (1-based) */
};

void csv_init(struct csv *c, const char *text, size_t len);
/* Reads the next record into *fields (n strings).  Returns 1 for a record,
 * 0 at the end of the text, -1 for malformed input (e says what, without
 * the file name; *line is the record's first line either way). */
int csv_next(struct csv *c, char ***fields, size_t *n, int *line, struct err *e);
void csv_fields_free(char **fields, size_t n);

#endif
