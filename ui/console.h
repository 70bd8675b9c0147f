/* console.h - the full-screen console: the views of ui/ (Forests,
 * Mailboxes, Mailbox Jobs, Blackout Times, Summary, Schedule, Metrics,
 * Delegation, Event log, Settings, Help, About), with the engine running
 * the queue in a background thread.
 *
 * Threads: the UI thread owns curses and its own read-only view of the
 * store (a separate SQLite connection, WAL: it never blocks the engine).
 * The engine thread runs engine_run_queue and never touches the screen;
 * the two share nothing but the store and a cancel flag.  Only ui/ includes
 * <curses.h>. */
#ifndef MF_CONSOLE_H
#define MF_CONSOLE_H

#include "cfg.h"
#include "common.h"

#include <stdio.h>

struct console_opts {
	const struct cfg *cfg;
	const char *config_path;    /* the file Settings saves to */
	const char *store_path;
	int workers;
	bool run_engine;        /* run queued jobs while the console is open */
};

/* The key table as text (key, command, views, what it does), for
 * "mailferry console --keys" and the manual; needs no terminal. */
void console_print_keys(FILE *out);

/* Runs until the user quits; returns a process exit code. */
int console_run(const struct console_opts *o);

#endif
