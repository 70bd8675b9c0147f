/* queue_dialog.h - "Add to migration queue": the dialog the Mailboxes and
 * Delegation views open on the mailboxes to migrate.  It asks for the job
 * options (target endpoint, or each mailbox's matched target mailbox from
 * the last forest match; target login, priority, start time, pass,
 * pre-stage age, suspend when ready, notify the user) and on OK queues one
 * job per mailbox in a single store transaction, skipping mailboxes that
 * already have a queued, running or paused job.
 *
 * Memory: the dialog copies the items it is given.  Thread: UI only. */
#ifndef MF_QUEUE_DIALOG_H
#define MF_QUEUE_DIALOG_H

#include "ui.h"

/* One mailbox to queue. */
struct queue_item {
	int64_t mailbox_id;
	int64_t endpoint_id;        /* its (source) endpoint */
	const char *login;
	const char *address;        /* NULL or "" when unknown */
	int status;                 /* enum job_state of its latest job, -1: never queued */
};

/* Opens the dialog for n items; what says which mailboxes these are in the
 * dialog's note ("3 selected mailboxes", "the delegation set of alice").
 * Says why on the status line instead when nothing can be queued (no
 * mailbox, no endpoint to migrate to). */
void queue_dialog_open(struct ui *u, const struct queue_item *items, size_t n, const char *what);

/* Whether a mailbox whose latest job is in state status (-1: none) is
 * already in the queue (queued, running or paused). */
bool queue_status_active(int status);

/* The job state named s (a mailbox row's status), -1 for NULL or unknown. */
int queue_status_parse(const char *s);

/* Copies the n strings src[i] (NULL as "") into one allocation, pointing
 * *dst[i] at each copy; returns the allocation (the row frees it).  One
 * allocation per row keeps 100 000-row tables cheap to load and free. */
char *ui_pack_strings(int n, const char *const *src, const char **const *dst);

#endif
