/* migrate.h - one pass of one mailbox, IMAP source to IMAP target.
 *
 * Life of one message copy (the invariants that make kill -9 safe):
 *
 *   listed ──► journaled ──► APPEND sent ──► APPENDUID seen ──► mapped
 *               (commit)                         │               (commit,
 *                                                │                journal row
 *                                                ▼                deleted)
 *                                      crash/drop: in doubt
 *                                                │
 *                          reconcile: target UIDs >= journaled UIDNEXT,
 *                          matched by size + SHA-256 to the pending source
 *                          messages ──► mapped, or left to copy again
 *
 *  - A journal row is committed before its APPEND is sent, with the target
 *    folder's UIDVALIDITY and UIDNEXT as seen before the batch.
 *  - A map row (source UID -> target UID, flags, size, hash) means "on the
 *    target"; a message with a map row is never sent again.
 *  - A folder whose map is missing or whose UIDVALIDITY changed is matched by
 *    identity (size + SHA-256 of the bytes) before anything is copied.
 *
 * Both sides are reached through the driver interface (driver.h): bodies
 * are requested many at a time from the source and stream, chunk by chunk,
 * into appends on the target, so memory stays bounded whatever the message
 * size and there is no round trip per message.
 *
 * Threads: one mig run per thread; the store handle belongs to that thread. */
#ifndef MF_MIGRATE_H
#define MF_MIGRATE_H

#include "cfg.h"
#include "common.h"
#include "store.h"

struct mig_ctx {
	struct store *store;        /* borrowed */
	const struct cfg *cfg;      /* borrowed */
	struct job *job;            /* borrowed; counters are updated */
	const struct endpoint *src, *dst;
	const char *src_secret, *dst_secret;   /* borrowed, never logged */
	volatile int *cancel;       /* non-zero: stop at the next checkpoint */
	bool quiet;                 /* no per-folder lines on stderr */
	bool connected;             /* both servers accepted us at least once */
	int64_t failed_endpoint;    /* the endpoint whose connect or login failed last, 0 none */
};

/* Runs the job's pass once.  ST_OK, ST_PARTIAL (skipped or failed items),
 * or an error whose retry class tells the caller what to do. */
enum st mig_run(struct mig_ctx *m, struct err *e);

/* Runs mig_run with reconnects: RETRY_NOW/RETRY_LATER errors are retried up
 * to cfg->retry_max times with backoff (the server's hint wins). */
enum st mig_run_with_retries(struct mig_ctx *m, struct err *e);

struct verify_result {
	int64_t source, target, missing, extra, differ, skipped;
	int folders;
};
/* Compares source and target folder by folder through the map; deep also
 * hashes every target message.  Prints a verdict line to out. */
enum st mig_verify(struct mig_ctx *m, bool deep, struct verify_result *vr, struct err *e);
/* The one-line verdict ("all 5 412 messages of ..."); caller frees. */
char *mig_verdict(const struct mig_ctx *m, const struct verify_result *vr);

#endif
