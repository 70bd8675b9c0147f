/* blackout.h - whether a mailbox may migrate at a given time: the blackout
 * windows (store.h "blackout times") that apply to it, in their own time
 * zones, filtered by the phase of the migration each window holds.
 *
 * Which windows apply to a mailbox: a window for that mailbox, a window for
 * its site, and a window for no site and no mailbox (everyone).
 *
 * Phases and modes.  A window's mode (NULL: the mode of the forest of the
 * mailbox's endpoint, "entire" when that is unset too) says which phases
 * it holds, after the seed's "apply mailbox blackouts to":
 *   entire    every pass;
 *   initial   the initial migration: the first full pass up to "ready to
 *             complete" and the incremental syncs while a job waits for
 *             cutover (BO_PHASE_INITIAL);
 *   final     the final migration: the completing pass at cutover
 *             (BO_PHASE_FINAL).
 * A job that goes straight to completion (no suspend-when-ready) runs one
 * pass that is both, BO_PHASE_WHOLE, held by every mode.
 *
 * Weekly windows repeat in wall-clock time of their zone (22:00-06:00 stays
 * 22:00-06:00 across a daylight-saving change; tz.h).  Overlapping windows
 * chain: a hold lasts until no applicable window covers the time.
 *
 * Memory and threads: a bo_set owns copies of everything it holds; it
 * caches the last occurrence of each window, so one set serves one thread
 * (each engine worker loads its own: bo_load is cheap). */
#ifndef MF_BLACKOUT_H
#define MF_BLACKOUT_H

#include "common.h"
#include "store.h"

enum bo_phase { BO_PHASE_WHOLE, BO_PHASE_INITIAL, BO_PHASE_FINAL };
const char *bo_phase_name(enum bo_phase p);     /* "whole", "initial", "final" */

/* A mode name ("entire", "initial", "final") as a bit set of the phases it
 * holds; NULL or "" gives 0 (caller falls back).  -1 for an unknown name. */
int bo_mode_phases(const char *mode);

struct bo_set;

/* An empty set (nothing is ever held). */
struct bo_set *bo_set_new(void);
void bo_free(struct bo_set *b);

/* Every blackout in the store, the forests' modes by endpoint, and, when a
 * window names a site or a mailbox, the mailboxes' sites and ids. */
enum st bo_load(struct store *s, struct bo_set **out, struct err *e);

/* Building a set by hand (tests, the forecast benchmark).  add_window
 * copies b; ST_CONFIG when its zone or mode is unknown. */
enum st bo_add_window(struct bo_set *b, const struct blackout *w, struct err *e);
void bo_add_mailbox(struct bo_set *b, int64_t endpoint_id, const char *login, int64_t mailbox_id,
                    const char *site);
void bo_set_endpoint_mode(struct bo_set *b, int64_t endpoint_id, const char *mode);

/* Whether the set has any window at all (a cheap "nothing to do"). */
bool bo_any(const struct bo_set *b);
/* Whether a window is for that mailbox (the forecast groups the mailboxes
 * windows treat alike). */
bool bo_names_mailbox(const struct bo_set *b, int64_t mailbox_id);

/* The mailbox (endpoint_id, login) as windows see it.  Strings point into
 * the set (valid until bo_free). */
struct bo_subject {
	int64_t mailbox_id;     /* 0: not a known mailbox */
	const char *site;       /* NULL: none known */
	int default_phases;     /* of the endpoint's forest mode */
};
void bo_subject_of(const struct bo_set *b, int64_t endpoint_id, const char *login,
                   struct bo_subject *out);

/* Whether phase is held at time t.  When it is, *until (may be NULL) gets
 * the first time after t at which no applicable window holds it, and *name
 * (may be NULL) the name of the window that holds t (owned by the set). */
bool bo_held(struct bo_set *b, const struct bo_subject *m, enum bo_phase phase, int64_t t,
             int64_t *until, const char **name);

/* The earliest time >= t at which an applicable window holds phase (t
 * itself when held now), INT64_MAX when none ever will; *name as above.
 * A running job stops at its checkpoint once the clock reaches it. */
int64_t bo_next_hold(struct bo_set *b, const struct bo_subject *m, enum bo_phase phase, int64_t t,
                     const char **name);

#endif
