/* driver.h - the mailbox driver interface: what the migration engine needs
 * from one side of a migration, whatever the protocol.
 *
 * IMAP implements it now (drv_imap.c); Exchange Web Services and Microsoft
 * Graph will implement it later.  migrate.c speaks only this interface.
 *
 * Model.  A struct drv is one logged-in session to one user's mailbox
 * (opened by an admin acting for the user).  It has at most one folder open
 * at a time.  Messages are identified inside a folder by a 32-bit id that
 * only grows (IMAP UID); a folder has a validity number that changes when
 * ids are reassigned (UIDVALIDITY).  Drivers whose server uses opaque ids
 * (EWS ItemId, Graph id) keep a local id table per folder so that this
 * contract holds; the store already has text columns for those ids.
 *
 * Streaming.  Bodies are never held whole: a driver hands a requested body
 * to a drv_sink in chunks (fetch side), and accepts one in chunks (append
 * side).  Both sides may keep many requests in flight: the engine asks for
 * bodies with fetch_request, then calls fetch_next, which returns as soon as
 * one request has finished; appends are started with append_begin and their
 * outcome is delivered to the handler given to append_start, whenever the
 * driver reads it (during any later append call or append_wait).
 *
 * Memory: structures returned through out-parameters belong to the caller
 * and are released with the matching *_free function below.  Pointers
 * passed in must stay valid until the call returns, except that
 * fetch_request keeps its struct drv_msg pointer until that request has
 * finished (fetch_next reports it).
 *
 * Threads: a struct drv belongs to one thread at a time. */
#ifndef MF_DRIVER_H
#define MF_DRIVER_H

#include "common.h"
#include "folder_map.h"
#include "store.h"

struct drv;

struct drv_folder {
	char *name;              /* UTF-8, full name as the server shows it */
	enum fm_special special;
	bool noselect;           /* holds no messages (a pure parent) */
	bool subscribed;
	char *dst;               /* set by the engine: mapped target name */
	char *note;              /* set by the engine: why dst differs */
};

struct drv_folders {
	struct drv_folder *v;
	size_t n;
	char delim;              /* hierarchy separator, '\0' if flat */
	char *prefix;            /* personal namespace prefix, "" when none */
};
void drv_folders_free(struct drv_folders *l);
struct drv_folder *drv_folders_find(struct drv_folders *l, const char *name);
/* Name without the personal namespace prefix (points into name). */
const char *drv_strip_prefix(const struct drv_folders *l, const char *name);

struct drv_box {
	uint32_t validity;       /* UIDVALIDITY */
	uint32_t next_id;        /* UIDNEXT: every new message gets an id >= this */
	uint32_t count;          /* messages in the folder */
	uint64_t modseq;         /* change counter (CONDSTORE), 0 when unsupported */
};

struct drv_msg {
	uint32_t id;             /* UID */
	uint32_t seq;            /* position when listed (drivers may use it) */
	uint64_t size;
	int64_t date;            /* arrival time, seconds since the epoch */
	char *date_raw;          /* as the server wrote it, to hand back verbatim */
	char *flags;             /* canonical: sorted, space-separated, no \Recent */
	unsigned char hash[32];  /* SHA-256 of the bytes, when have_hash */
	bool have_hash;
};

struct drv_msgs {
	struct drv_msg *v;       /* sorted by id */
	size_t n, cap;
};
void drv_msgs_free(struct drv_msgs *l);

/* Receives one message body in chunks. */
struct drv_sink {
	enum st (*begin)(void *ctx, struct drv_msg *msg, uint64_t size, struct err *e);
	enum st (*data)(void *ctx, const char *p, size_t n, struct err *e);
	enum st (*end)(void *ctx, struct err *e);
	void *ctx;
};

/* Outcome of one append: st is ST_OK (validity/id name the new message, or
 * are 0 when the server does not say), ST_TOOBIG, ST_ITEM (refused),
 * ST_CANCELED (not stored because the driver sent it together with a
 * refused message: send it again), or a session-wide failure class
 * (ST_QUOTA, ST_UNAVAIL...).  why is the server's words when st is not
 * ST_OK. */
typedef void (*drv_append_done)(void *ctx, size_t token, enum st st, uint32_t validity,
                                uint32_t id, const char *why);

enum drv_feature {
	DRV_APPEND_IDS,          /* appends report the new id (UIDPLUS) */
	DRV_CHANGE_COUNTER,      /* drv_box.modseq is meaningful (CONDSTORE) */
};

struct drv_ops {
	const char *name;        /* "imap" */

	enum st (*connect)(const struct endpoint *ep, const char *secret, const char *user,
	                   const char *role, int timeout_s, struct drv **out, struct err *e);
	void (*close)(struct drv **d);
	bool (*has)(struct drv *d, enum drv_feature f);
	uint64_t (*size_limit)(struct drv *d);          /* largest accepted message, 0: unknown */
	const char *(*label)(struct drv *d);

	enum st (*list_folders)(struct drv *d, struct drv_folders *out, struct err *e);
	/* ST_OK also when the folder exists already.  A driver may send the
	 * request and report its failure from the next open_folder or
	 * folder_status instead (so creating and opening share a round trip). */
	enum st (*create_folder)(struct drv *d, const char *name, bool subscribe, struct err *e);
	/* Opens name (read-only unless writable); track: ask for change counters. */
	enum st (*open_folder)(struct drv *d, const char *name, bool writable, bool track,
	                       struct drv_box *box, struct err *e);
	/* Current counters of the open folder (another session may be adding). */
	enum st (*folder_status)(struct drv *d, const char *name, struct drv_box *box, struct err *e);

	/* Messages of the open folder with id >= from_id. */
	enum st (*list_messages)(struct drv *d, uint32_t from_id, struct drv_msgs *out, struct err *e);
	/* Just the ids of the open folder, sorted; *ids owned by the caller. */
	enum st (*list_ids)(struct drv *d, uint32_t **ids, size_t *n, struct err *e);
	/* Fills hash/have_hash of msgs[0..n) (of the open folder). */
	enum st (*hash_messages)(struct drv *d, struct drv_msg **msgs, size_t n, struct err *e);
	/* Subject header of each message (for reports); subjects[i] malloc'd or NULL. */
	enum st (*subjects)(struct drv *d, struct drv_msg **msgs, size_t n, char **subjects,
	                    struct err *e);

	/* Pipelined body download from the open folder. */
	void (*fetch_request)(struct drv *d, struct drv_msg *msg);
	size_t (*fetch_pending)(struct drv *d);
	/* Runs until one requested body has finished: its chunks go to sink;
	 * *done is the message, *item is ST_OK or why that item failed (ST_ITEM:
	 * unreadable).  ST_OK without a sink begin for it: the message vanished
	 * from the server meanwhile. */
	enum st (*fetch_next)(struct drv *d, const struct drv_sink *sink, struct drv_msg **done,
	                      enum st *item, struct err *e);

	/* Pipelined upload into folder name (which the engine opened writable). */
	void (*append_start)(struct drv *d, const char *folder, drv_append_done fn, void *ctx);
	/* Starts one message.  ST_ITEM: the server refused it before any data
	 * (its outcome went to the handler); the engine sends no data then. */
	enum st (*append_begin)(struct drv *d, const struct drv_msg *meta, uint64_t size,
	                        size_t token, struct err *e);
	enum st (*append_data)(struct drv *d, const char *p, size_t n, struct err *e);
	enum st (*append_end)(struct drv *d, struct err *e);
	/* Delivers the outcomes already available (all of them when wait). */
	enum st (*append_wait)(struct drv *d, bool wait, struct err *e);
	size_t (*append_pending)(struct drv *d);

	/* Sets the flags of ids[i] to flags[i] in the open folder; ok[i] tells
	 * which succeeded. */
	enum st (*set_flags)(struct drv *d, const uint32_t *ids, char *const *flags, size_t n,
	                     bool *ok, struct err *e);
	/* Removes messages of the open folder (our own duplicates only). */
	enum st (*remove)(struct drv *d, const uint32_t *ids, size_t n, struct err *e);
};

/* The driver for an endpoint (by its URL scheme); NULL when none fits. */
const struct drv_ops *drv_for_endpoint(const struct endpoint *ep);

extern const struct drv_ops drv_imap_ops;

/* The IMAP login used by drv_imap_ops.connect, for callers that want the
 * raw connection (endpoint test shows capabilities).  The admin acts for
 * user through SASL PLAIN authorization, or logs in with the endpoint's
 * login template. */
struct imap;
enum st drv_imap_login(const struct endpoint *ep, const char *secret, const char *user,
                       const char *role, int timeout_s, struct imap **out, struct err *e);

#endif
