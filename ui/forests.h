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

#include "form.h"
#include "scope_tree.h"
#include "store.h"

struct ui;
struct ui_dialog;

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
	char *forest_name, *dir_base_dn, *scope;   /* for the messages; the bases read */
	int64_t forest_id;         /* whose directory this is (health of the forest) */
	/* Outputs, valid once conn_test_finished returned true. */
	enum health mail, dir;     /* H_UNKNOWN: not tested */
	char mail_msg[600], dir_msg[1600];
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
extern const char *const forest_mail_schemes[];
/* One or more directory URLs separated by spaces, checked as discovery
 * reads them (directory_url_check); false with why naming the bad one. */
bool forest_dir_url_check(const char *url, char *why, size_t n);

/* "OU=A, OU=B" (or one per line) as the store keeps a scope: one per line,
 * trimmed; "" for all.  With a ';' in the text, ';' separates and commas
 * belong to DNs ("ou=A,dc=x; ou=B,dc=x").  Caller frees. */
char *forest_scope_join(const char *typed);
/* A stored scope for the screen: "A, B" ("A; B" when they are DNs, which
 * forest_scope_join reads back), or "all mailboxes ...". */
void forest_scope_text(const char *scope, char *buf, size_t n);

/* The directory attribute map (dirmap.h) as typed in the wizard and the
 * edit dialog: "login=uid, key=employeeNumber".  forest_attrs_typed checks
 * it as `forest set --attr` does (same messages, naming the field) and
 * gives the stored text form in *map (owned; NULL when empty); false with
 * why.  forest_attrs_text shows a stored map that way. */
#define FOREST_ATTRS_HELP "FIELD=ATTRIBUTE, comma-separated (fields: login, address, name, site, database, " \
	"key, upn), e.g. login=uid; empty: the defaults"
bool forest_attrs_typed(const char *typed, char **map, char *why, size_t n);
void forest_attrs_text(const char *map, char *buf, size_t n);

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
/* scope_picker.c: a forest's scope chosen in the directory's OU tree
 * (scope_tree.h), shown as a dialog panel in place of the typed scope
 * field once the OUs are read (in the background); the Add Forest wizard's
 * scope step and the edit dialog's Mailboxes tab.  The picker lives in the
 * dialog's context; the dialog's panel_ctx points at it.  UI thread. */
struct scope_picker {
	struct scope_tree st;
	bool have_tree;             /* the panel replaces the text field */
	bool loading;
	bool touched;               /* Space was used: the tree says what to store */
	unsigned serial;            /* tells a reading which picker it is for */
	int text, panel;            /* the dialog's typed scope field and the panel */
	char key[FORM_VALUE_MAX * 3 + 4];   /* directory, bind DN, base DN read for */
	char note[400];             /* what the reading found, for the dialog's note */
	void (*updated)(struct ui *u, struct ui_dialog *d);   /* after a reading starts or ends; may be NULL */
};
/* Where to read the OUs: the directory as typed; typed_password NULL means
 * secret_ref (NULL: anonymous), "" an anonymous bind. */
struct scope_source {
	const char *forest, *url, *bind_dn, *base_dn, *typed_password, *secret_ref;
};
/* Adds the panel right after the typed scope field text_field (hidden). */
void scope_picker_add(struct ui_dialog *d, struct scope_picker *p, int text_field);
/* Reads the OUs when the directory and a base DN are set and differ from
 * the last reading. */
void scope_picker_load(struct ui *u, struct ui_dialog *d, struct scope_picker *p, const struct scope_source *src);
/* Shows the tree (when read) or the text field, or neither (!shown). */
void scope_picker_show(struct ui_dialog *d, struct scope_picker *p, bool shown);
/* The scope chosen (tree or text), caller frees; NULL: the tree includes nothing. */
char *scope_picker_scope(const struct ui_dialog *d, const struct scope_picker *p);
void scope_picker_free(struct scope_picker *p);

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
