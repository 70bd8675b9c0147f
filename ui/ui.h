/* ui.h - what the console's parts share: the views, the key table, the
 * modal prompts (confirm, typed confirm, line input, menus, dialogs) and the
 * drawing helpers.  console.c owns the loop; each ui/view_*.c owns a view.
 *
 * Threads: everything here runs on the UI thread, which reads and writes
 * the store through its own connection and never touches the network.
 * Work that needs the network (testing a connection) runs in a thread of
 * its own started by the view (see ui_task_*), which reports back through
 * memory the UI polls.  Memory: struct ui owns the views, their tables and
 * the active modal; views own their priv data (freed in their close op). */
#ifndef MF_UI_H
#define MF_UI_H

#include <curses.h>
#include <pthread.h>
#include <stdatomic.h>

#include "cfg.h"
#include "common.h"
#include "console.h"
#include "engine.h"
#include "form.h"
#include "textout.h"
#include "store.h"
#include "task.h"
#include "tbl.h"

enum view_id {
	V_FORESTS, V_MAILBOXES, V_JOBS, V_BLACKOUTS, V_SUMMARY, V_SCHEDULE, V_METRICS, V_DELEGATION,
	V_EVENTS, V_SETTINGS, V_HELP, V_ABOUT, V_JOB_DETAIL, V_REPORT, V__COUNT
};

#define VM(v) (1u << (v))
#define VM_ALL 0xFFFFFFFFu
/* Views whose data is a struct tbl (moving, search, sort, select work). */
#define VM_TABLES (VM(V_FORESTS) | VM(V_MAILBOXES) | VM(V_JOBS) | VM(V_BLACKOUTS) | VM(V_SCHEDULE) | \
                   VM(V_DELEGATION) | VM(V_EVENTS) | VM(V_SETTINGS) | VM(V_HELP) | VM(V_ABOUT) | \
                   VM(V_SUMMARY) | VM(V_METRICS) | VM(V_JOB_DETAIL) | VM(V_REPORT))

enum action {
	ACT_NONE, ACT_VIEW, ACT_HELP, ACT_QUIT, ACT_BACK, ACT_OPEN, ACT_REDRAW,
	ACT_UP, ACT_DOWN, ACT_PGUP, ACT_PGDN, ACT_HOME, ACT_END,
	ACT_SEARCH, ACT_CMDLINE, ACT_SORT, ACT_GROUP, ACT_FILTER,
	ACT_SELECT, ACT_SELECT_RANGE, ACT_SELECT_ALL, ACT_SELECT_NONE,
	ACT_NEW, ACT_EDIT, ACT_DELETE, ACT_TEST,
	ACT_QUEUE, ACT_PAUSE, ACT_RESUME, ACT_CANCEL, ACT_RETRY, ACT_CUTOVER, ACT_TOP, ACT_BOTTOM, ACT_MOVE_UP, ACT_MOVE_DOWN,
	ACT_TAB_NEXT, ACT_TAB_PREV, ACT_PERIOD, ACT_SAVE, ACT_CHECK, ACT_DISCOVER,
	ACT_FOREST,             /* choose the forest a view shows (u->forest_id) */
	ACT_CHECKLIST,          /* the forest's preparation checklist (checklist.h) */
	ACT_REPORT,             /* the statistics report (view_report.c) */
	ACT_MAIL,               /* e-mail what the view shows (the report) */
};

/* One key binding.  The same table dispatches keys, runs ":name" commands
 * and writes the Help screen. */
struct keybind {
	int key;                /* curses key code, 0 for command-line only */
	const char *keyname;    /* as Help shows it */
	enum action act;
	int arg;                /* ACT_VIEW: the view */
	unsigned views;         /* VM(...) bits where it applies */
	const char *name;       /* ":name" on the command line, NULL: none */
	const char *help;
};
extern const struct keybind ui_keys[];
extern const size_t ui_nkeys;

struct ui;
struct view;

struct view_ops {
	/* Entering the view (and every reload): fills v->tbl or priv. */
	void (*open)(struct ui *u, struct view *v);
	/* Called 4 times a second while shown: cheap, incremental. */
	void (*tick)(struct ui *u, struct view *v);
	/* Draws below the toolbar (y0, h rows); NULL: the table. */
	void (*draw)(struct ui *u, struct view *v, int y0, int h, int w);
	/* A key's action for this view; false when it doesn't apply. */
	bool (*act)(struct ui *u, struct view *v, enum action a, const char *arg);
	void (*close)(struct ui *u, struct view *v);
	const char *empty;      /* shown when there is no row */
};

struct view {
	const char *name;       /* toolbar and ":view NAME" */
	const char *abbrev;     /* when the toolbar is narrow */
	int key;                /* number key, 0 for none */
	const struct view_ops *ops;
	struct tbl tbl;
	bool has_tbl;
	bool opened;
	char title[256];        /* line above the table header, "" for none */
	void *priv;
};

/* --- modal prompts --------------------------------------------------------- */

enum ui_mode { M_NORMAL, M_LINE, M_CONFIRM, M_MENU, M_DIALOG };

/* Line input (search, ":" commands, typed confirmation). */
struct ui_line {
	char prompt[160];
	struct form_field field;
	/* Called on every edit when live (search as you type), and on Enter
	 * (done true) or Esc (cancelled true). */
	void (*fn)(struct ui *u, const char *text, bool done, bool cancelled, void *ctx);
	void *ctx;
	bool live;
};

struct ui_menu {
	char title[128];
	const char *items[40];
	int n, cur;
	void (*fn)(struct ui *u, int choice, void *ctx);   /* -1: cancelled */
	void *ctx;
};

/* A dialog: a form and what happens when a button is pressed.  done
 * returns true to close the dialog; poll (may be NULL) runs 4 times a
 * second (a wizard waiting for a connection test). */
struct ui_dialog {
	struct form form;
	struct form_field fields[40];   /* the Add Forest wizard has 33 */
	int nfields;
	bool (*done)(struct ui *u, struct ui_dialog *d, int button);
	void (*poll)(struct ui *u, struct ui_dialog *d);
	void (*free_ctx)(void *ctx);
	void *ctx;
	int width;              /* columns, 0: automatic */
	char note[512];         /* text above the fields (wizard steps) */
	/* An optional panel (the wizard's OU tree) drawn in panel_rows lines in
	 * place of field panel_field, a focusable FF_BUTTON with button 0 made
	 * by ui_panel: while it has the focus, keys go to panel_key first
	 * (false: the form handles the key as usual).  Hidden with its field. */
	int panel_field, panel_rows;
	void *panel_ctx;        /* the panel's owner (e.g. a scope_picker) */
	void (*panel_draw)(struct ui *u, const struct ui_dialog *d, int y, int x, int h, int w, bool focus);
	bool (*panel_key)(struct ui *u, struct ui_dialog *d, int fk);
};

struct ui {
	struct store *st;
	const struct console_opts *o;
	struct view views[V__COUNT];
	enum view_id cur, back;
	enum ui_mode mode;
	struct ui_line line;
	struct ui_menu menu;
	struct ui_dialog *dialog;
	char confirm_text[256];
	void (*confirm_fn)(struct ui *u, bool yes, void *ctx);
	void *confirm_ctx;
	char status[512];
	bool status_is_error;
	bool quit;
	bool color;
	int h, w;
	/* the engine thread */
	pthread_t engine;
	struct engine_opts eo;  /* the engine thread's options (pause_on_cancel set at quit) */
	bool engine_started;
	atomic_int engine_busy;
	volatile int cancel;
	bool pause_on_quit;
	int64_t detail_job;     /* the job the detail view shows */
	int64_t report_job;     /* the job the Report view shows; 0: the whole project */
	struct ui_task *tasks;  /* background work (task.h) */
	const char *lat_path;   /* MAILFERRY_LATENCY_LOG: key-to-screen times go there */
	int64_t key_us, *lat;
	size_t nlat, latcap;
	int64_t forest_id;      /* the forest the Mailboxes view shows; 0: all */
};

/* Colour pairs (monochrome: attributes only). */
enum ui_color { C_BAR = 1, C_CURSOR, C_ERROR, C_OK, C_WARN, C_HEADER, C_GROUP, C_SELECTED, C_DIM };
attr_t ui_attr(const struct ui *u, enum ui_color c);

/* Status line: a result (info) or an error an admin can act on (also
 * written to the diagnostic log). */
void ui_say(struct ui *u, const char *fmt, ...) PRINTF_LIKE(2, 3);
void ui_error(struct ui *u, const char *fmt, ...) PRINTF_LIKE(2, 3);

void ui_confirm(struct ui *u, void (*fn)(struct ui *u, bool yes, void *ctx), void *ctx,
                const char *fmt, ...) PRINTF_LIKE(4, 5);
void ui_prompt(struct ui *u, const char *prompt, const char *initial, bool live,
               void (*fn)(struct ui *u, const char *text, bool done, bool cancelled, void *ctx),
               void *ctx);
void ui_menu(struct ui *u, const char *title, const char *const *items, int n, int cur,
             void (*fn)(struct ui *u, int choice, void *ctx), void *ctx);
/* Opens d (allocated by the caller with x_calloc; the ui frees it, calling
 * d->free_ctx(d->ctx) first). */
void ui_dialog_open(struct ui *u, struct ui_dialog *d);
void ui_dialog_close(struct ui *u);
/* Adds a field to a dialog being built; returns its index. */
int ui_field(struct ui_dialog *d, const char *label, enum ff_kind kind, const char *value,
             const char *help);
int ui_button(struct ui_dialog *d, const char *label, int id);
/* Adds the panel's field (see struct ui_dialog) with its callbacks. */
int ui_panel(struct ui_dialog *d, const char *label, int rows, const char *help,
             void (*draw)(struct ui *u, const struct ui_dialog *d, int y, int x, int h, int w, bool focus),
             bool (*key)(struct ui *u, struct ui_dialog *d, int fk));

void ui_switch(struct ui *u, enum view_id v);
/* For the console and the headless benchmark: names and ops of the views,
 * one frame drawn, and the views' memory freed. */
void console_views_init(struct ui *u);
void console_preload(struct ui *u);
void console_draw(struct ui *u);
void console_views_free(struct ui *u);
/* Reloads a view's data now (after an action changed the store). */
void ui_reload(struct ui *u, enum view_id v);

/* --- drawing (draw.c) --------------------------------------------------------- */

/* Display width of UTF-8 text (wide characters count 2). */
int draw_width(const char *s);
/* Writes s at (y, x) in exactly w columns: cut or padded, right-aligned
 * when right is true. */
void draw_cell(int y, int x, int w, const char *s, bool right);
void draw_table(struct ui *u, struct tbl *t, int y0, int h, int w, bool select_marks);
void draw_dialog(struct ui *u, const struct ui_dialog *d);
void draw_menu(struct ui *u, const struct ui_menu *m);
/* A horizontal bar of len cells out of max, for charts. */
void draw_bar(int y, int x, int len);

/* --- the views (view_*.c) ------------------------------------------------------ */

extern const struct view_ops view_forests_ops, view_mailboxes_ops, view_jobs_ops, view_blackouts_ops,
	view_summary_ops, view_schedule_ops, view_metrics_ops, view_delegation_ops, view_events_ops,
	view_settings_ops, view_help_ops, view_about_ops, view_job_detail_ops, view_report_ops;

/* Common table moves for a view's act(): cursor keys, search, sort, group,
 * selection.  Returns false when a isn't one of them. */
bool ui_table_act(struct ui *u, struct view *v, enum action a, const char *arg);

/* Runs a job action (ACT_PAUSE, ACT_RESUME, ACT_CANCEL, ACT_RETRY, moves) on the
 * jobs and says what happened in the status line (view_jobs.c). */
void jobs_apply(struct ui *u, enum action a, const int64_t *ids, size_t n);

/* The jobs as Mailbox Jobs holds them (brought up to date first: only
 * changed rows are read), in queue order; only the queued, running, ready
 * and completing ones (a pass is due) when active_only.  The strings are valid during the call.  For the
 * Schedule and Metrics. */
struct job_brief {
	int64_t id;
	enum job_state state;
	int priority;
	int64_t queue_pos;
	const char *src_ep, *src_user, *dst_ep, *dst_user;
	int64_t src_size, bytes_done, start_after, started, finished;
	bool suspend_ready;
	enum job_phase phase;
	int64_t next_sync, cutover_at;
};
void jobs_each(struct ui *u, bool active_only, void (*fn)(void *ctx, const struct job_brief *b), void *ctx);
/* Jobs by state and what they copied, from the same rows.  For the Summary. */
/* "blackout NAME until TIME" when a blackout holds job id now, else "". */
void jobs_hold_text(struct ui *u, int64_t id, char *buf, size_t n);
void jobs_totals(struct ui *u, int64_t counts[JOB__COUNT], int64_t *items, int64_t *bytes);

/* Mailboxes as the Mailboxes view holds them (every forest): sync brings
 * them up to date (only changed rows are read); find looks one up by id
 * (strings valid until the next sync).  For Delegation. */
struct mailbox_brief {
	int64_t id, endpoint_id, forest_id;
	int status;                 /* enum job_state, -1: never queued */
	const char *login, *address;
};
void mailboxes_sync(struct ui *u);
/* Every mailbox held (after a sync): site ("" when none), status, items
 * and bytes (-1 unknown).  For the Summary. */
void mailboxes_each(struct ui *u, void (*fn)(void *ctx, const char *site, int status, int64_t items,
                                            int64_t bytes), void *ctx);
bool mailboxes_find(struct ui *u, int64_t id, struct mailbox_brief *out);

/* Label/value tables (kv.c): Summary, About, job detail. */
void kv_begin(struct view *v);
void kv_add(struct view *v, const char *label, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Formatting helpers for cells. */
void fmt_count(int64_t c, char *buf, size_t n);     /* "12,345", "-" for < 0 */
void fmt_time(int64_t t, char *buf, size_t n);      /* local "YYYY-MM-DD HH:MM", "-" for 0 */
void fmt_duration(int64_t s, char *buf, size_t n);  /* "3h12m", "-" for < 0 */

#endif
