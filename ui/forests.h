/* forests.h - what the Forests view (view_forests.c) and the Add Forest
 * wizard (forest_wizard.c) share: the connection test that runs in a
 * thread of its own, the URL checks, and the hooks through which the
 * wizard reports back to the view (test results, the forest to select).
 *
 * Threads: a conn_test is filled on the UI thread, run on its own thread
 * (which touches nothing but the test's own memory: no store, no curses),
 * and read back on the UI thread once conn_test_finished says so.
 * Memory: the caller owns a conn_test and frees it with conn_test_free,
 * which waits for the thread; typed secrets in it are wiped on free. */
#ifndef MF_UI_FORESTS_H
#define MF_UI_FORESTS_H

#include <pthread.h>
#include <stdatomic.h>

#include "store.h"

struct ui;

/* Which result a test gave: never tested, passed, failed. */
enum health { H_UNKNOWN, H_OK, H_FAIL };

struct conn_test {
	/* Inputs (owned copies). */
	struct endpoint ep;        /* url empty: no mail test */
	char *secret;              /* typed password, or NULL: resolve ep.secret_ref */
	char *secrets_path;
	int timeout_s;
	char *dir_url;             /* NULL or "": no directory test */
	char *dir_bind_dn;
	char *dir_secret;          /* typed, or NULL: dir_secret_ref (NULL: anonymous) */
	char *dir_secret_ref;
	int64_t forest_id;         /* whose directory this is (health of the forest) */
	/* Outputs, valid once conn_test_finished returned true. */
	enum health mail, dir;     /* H_UNKNOWN: not tested */
	char mail_msg[600], dir_msg[600];
	/* The thread. */
	pthread_t thread;
	bool started, joined;
	atomic_int done;
};

/* A test of ep (and of forest f's directory when f has one); secret and
 * dir_secret are typed passwords or NULL (then the references are used). */
struct conn_test *conn_test_new(const struct ui *u, const struct endpoint *ep, const char *secret,
                                const struct forest *f, const char *dir_secret);
/* Starts the thread; false (with the reason in mail_msg) when it can't. */
bool conn_test_start(struct conn_test *t);
/* True once the thread has ended (it is joined then). */
bool conn_test_finished(struct conn_test *t);
void conn_test_free(struct conn_test *t);

/* Checks "scheme://host[:port][/...]" against the allowed schemes (NULL
 * terminated); false with why ("port 70000 is out of range (1 to 65535)"). */
bool forest_url_check(const char *url, const char *const *schemes, char *why, size_t n);
extern const char *const forest_mail_schemes[], *const forest_dir_schemes[];

/* "OU=A, OU=B" (or one per line) as the store keeps a scope: one per line,
 * trimmed; "" for all.  With a ';' in the text, ';' separates and commas
 * belong to DNs ("ou=A,dc=x; ou=B,dc=x").  Caller frees. */
char *forest_scope_join(const char *typed);
/* A stored scope for the screen: "A, B" ("A; B" when they are DNs, which
 * forest_scope_join reads back), or "all mailboxes ...". */
void forest_scope_text(const char *scope, char *buf, size_t n);

/* Role names as the store keeps them and as the console shows them. */
extern const char *const forest_roles[];        /* "source", "target", "tenant" */
extern const char *const forest_role_labels[];  /* "source", "target", "Office 365 tenant" */
const char *forest_role_label(const char *role);

/* Says where a secret comes from without ever reading it. */
void forest_secret_where(const char *ref, char *buf, size_t n);

/* view_forests.c: remembers a test result for this session (shown as the
 * health mark), and selects a forest in the list after a reload. */
void forests_record_test(struct ui *u, const struct conn_test *t);
void forests_select(struct ui *u, int64_t forest_id);
/* Takes over a test still running (a wizard closed meanwhile): the view
 * joins it when it ends and records its result. */
void forests_adopt_test(struct ui *u, struct conn_test *t);

/* forest_wizard.c: the Add Forest wizard (key n). */
void forest_wizard_open(struct ui *u);

/* view_forests.c: the forest under the cursor (or the forest of the
 * endpoint under it), NULL when none; an endpoint of forest_id, 0 when it
 * has none; a health result for an endpoint (key = its id) or a forest's
 * directory (key = -forest id), shown as the marks. */
const struct forest *forests_selected(struct ui *u);
int64_t forests_endpoint_of(struct ui *u, int64_t forest_id);
void forests_set_health(struct ui *u, int64_t key, enum health h, const char *msg);
int64_t forests_endpoint_id(struct ui *u, const char *endpoint_name);

/* forest_tasks.c: a forest's health checks (H) and its directory
 * discovery (R), each in a thread of its own (task.h). */
void forest_check_start(struct ui *u, const struct forest *f);
void forest_discover_start(struct ui *u, const struct forest *f, bool full);
/* forest_sites.c: the Sites and Licenses tabs of the Forests view, with
 * what they read from the store (owned by the view; UI thread). */
struct forest_sites;
struct forest_sites *forest_sites_new(void);
void forest_sites_free(struct forest_sites *s);
/* Draws forest f's sites (licenses: its mailboxes by kind) from line y in
 * h lines of w columns; reads the store again after a few seconds. */
void forest_sites_draw(struct ui *u, struct forest_sites *s, const struct forest *f, bool licenses, int y, int h,
                       int w);

/* forest_tasks.c: the forest's preparation checklist (P), in a thread of
 * its own; the list opens when it is done. */
void forest_checklist_start(struct ui *u, const struct forest *f);

#endif
