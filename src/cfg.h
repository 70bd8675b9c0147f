/* cfg.h - mailferry.conf (libconfig) read once, at start-up, into plain
 * structs.  libconfig is not thread-safe: only main() calls cfg_load, before
 * any thread starts; afterwards the struct is read-only and shared.
 *
 * Every key is described in the table in cfg.c, which also generates the
 * documented example (data/mailferry.conf.example) and the Settings view. */
#ifndef MF_CFG_H
#define MF_CFG_H

#include "common.h"

struct cfg {
	char *store_path;          /* SQLite store; owned */
	char *log_path;            /* diagnostic log file, NULL for none; owned */
	char *log_level;           /* "error".."trace"; owned */
	char *secrets_path;        /* typed-in credentials, mode 0600; owned */
	int workers;               /* parallel mailboxes */
	int max_connections_per_server; /* default per endpoint */
	int batch_messages;        /* messages per copy batch */
	int batch_bytes_mb;        /* bytes in flight per batch */
	int timeout_s;             /* network inactivity timeout */
	int retry_max;             /* reconnect attempts per pass */
	int bad_item_limit;        /* failed items before a job fails */
	char *separator_char;      /* replaces a target separator in a source name; owned */
	int verify_after_copy;     /* run verify after each full/delta pass */
};

/* Fills c with defaults, then reads path (if not NULL and it exists, or if
 * required is true).  Errors name the file and line. */
enum st cfg_load(struct cfg *c, const char *path, bool required, struct err *e);
void cfg_free(struct cfg *c);
/* Default locations (XDG): caller frees. */
char *cfg_default_path(void);
char *cfg_default_data_dir(void);

#endif
