/* migrate.c - copy, delta, reconcile and verify one mailbox through the
 * driver interface; see migrate.h for the invariants and driver.h for what
 * a protocol provides. */
#include "config.h"

#include "migrate.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "driver.h"
#include "folder_map.h"
#include "log.h"

/* One side of a migration: a driver and its session. */
struct side {
	const struct drv_ops *ops;
	struct drv *d;
};

/* bsearch and qsort must not be given a NULL array, even when empty. */
static void *bsearch_n(const void *key, const void *base, size_t n, size_t size,
                       int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL;
}

static void qsort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_msg(const void *a, const void *b)
{
	uint32_t x = ((const struct drv_msg *)a)->id, y = ((const struct drv_msg *)b)->id;
	return x < y ? -1 : x > y;
}

static int cmp_msg_ptr(const void *a, const void *b)
{
	return cmp_msg(*(const struct drv_msg *const *)a, *(const struct drv_msg *const *)b);
}

static const struct map_entry *map_find(const struct map_entry *map, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (map[mid].src_uid == uid)
			return &map[mid];
		if (map[mid].src_uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* The copy pipeline                                                        */

/* Folder-level facts the pipeline needs. */
struct folder_ctx {
	int64_t folder_id;
	const char *src_name;
	const char *dst_name;
	uint32_t dst_validity;
	/* Lowest id the next chunk's copies can get: from the target before
	 * the first chunk, then one past the highest id an append reported.
	 * Another client adding meanwhile only makes the real value higher,
	 * which merely widens what a reconcile examines. */
	uint32_t dst_next;
};

struct copier {
	struct mig_ctx *m;
	struct folder_ctx *fc;
	struct side *src, *dst;
	struct drv_msg **todo;       /* sorted by id */
	size_t n;
	size_t requested, finished;  /* fetch requests made / completed */
	bool *received;              /* todo[i]'s body arrived */
	/* the body being streamed */
	size_t cur;
	bool discard;                /* the target refused it before its data */
	EVP_MD_CTX *md;
	unsigned char (*hash)[32];   /* per todo entry */
	uint64_t *bytes;             /* per todo entry: size sent */
	/* results, written to the store in one short transaction per chunk */
	struct map_entry *ok;
	size_t nok, okcap;
	uint32_t *drop;              /* journal rows to delete without a map row */
	size_t ndrop, dropcap;
	struct drv_msg **retry;      /* to send again (their batch was refused) */
	size_t nretry, retrycap;
	enum st hard;                /* first session-wide refusal (quota, busy) */
	struct err hard_err;
};

static size_t todo_index(const struct copier *c, const struct drv_msg *msg)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->todo[mid] == msg)
			return mid;
		if (c->todo[mid]->id < msg->id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return c->n;
}

static void add_drop(struct copier *c, uint32_t id)
{
	c->drop = x_grow(c->drop, c->ndrop, &c->dropcap, sizeof *c->drop, 64);
	c->drop[c->ndrop++] = id;
}

static void record_item_failure(struct copier *c, const struct drv_msg *msg, const char *reason)
{
	struct mig_ctx *m = c->m;
	m->job->items_failed++;
	store_event(m->store, EV_WARN, m->job->id, "message %u in \"%s\" (%llu bytes) not copied: %s",
	            msg->id, c->fc->src_name, (unsigned long long)msg->size, reason);
	struct err e;
	store_item_failed_add(m->store, m->job->id, c->fc->folder_id, c->fc->src_name, msg->id, msg->size,
	                      reason, &e);
}

/* The target's verdict on one append. */
static void on_append_done(void *ctx, size_t token, enum st st, uint32_t validity, uint32_t id,
                           const char *why)
{
	struct copier *c = ctx;
	struct drv_msg *msg = c->todo[token];
	struct mig_ctx *m = c->m;
	if (st == ST_OK) {
		if (id && validity == c->fc->dst_validity) {
			c->ok = x_grow(c->ok, c->nok, &c->okcap, sizeof *c->ok, 256);
			struct map_entry *me = &c->ok[c->nok++];
			memset(me, 0, sizeof *me);
			me->src_uid = msg->id;
			me->dst_uid = id;
			me->size = c->bytes[token];
			me->flags = msg->flags;   /* borrowed from the listing */
			memcpy(me->hash, c->hash[token], 32);
			if (id >= c->fc->dst_next)
				c->fc->dst_next = id + 1;
		} else {
			/* No id in the answer: the journal row stays and the
			 * reconcile after the folder finds the copy by its hash. */
			memcpy(msg->hash, c->hash[token], 32);
			msg->have_hash = true;
		}
		m->job->items_done++;
		m->job->bytes_done += (int64_t)c->bytes[token];
		return;
	}
	/* Refused: the message is not on the target. */
	add_drop(c, msg->id);
	if (st == ST_CANCELED) {
		/* Sent in a batch with a refused message: send it again alone. */
		c->retry = x_grow(c->retry, c->nretry, &c->retrycap, sizeof *c->retry, 16);
		c->retry[c->nretry++] = msg;
		return;
	}
	if (st == ST_TOOBIG) {
		struct err e;
		m->job->items_skipped++;
		store_skipped_add(m->store, m->job->id, c->fc->folder_id, c->fc->src_name, msg->id, NULL,
		                  msg->size, why, &e);
		return;
	}
	if (st_retry_class(st) == RETRY_ITEM) {
		record_item_failure(c, msg, why);
		return;
	}
	/* Quota, unavailable, throttled: finish what is in flight, then stop. */
	if (!c->hard) {
		c->hard = st;
		err_set(&c->hard_err, st, "%s: APPEND refused: %s", c->dst->ops->label(c->dst->d), why);
	}
}

static enum st cp_begin(void *ctx, struct drv_msg *msg, uint64_t size, struct err *e)
{
	struct copier *c = ctx;
	size_t idx = todo_index(c, msg);
	if (idx >= c->n || c->received[idx])
		return err_set(e, ST_PROTO, "%s: message body that was not asked for",
		               c->src->ops->label(c->src->d));
	c->received[idx] = true;
	c->cur = idx;
	c->bytes[idx] = size;
	c->discard = false;
	EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
	enum st s = c->dst->ops->append_begin(c->dst->d, msg, size, idx, e);
	if (s == ST_ITEM) {
		c->discard = true;   /* refused up front: read the body, send nothing */
		return ST_OK;
	}
	return s;
}

static enum st cp_data(void *ctx, const char *p, size_t n, struct err *e)
{
	struct copier *c = ctx;
	if (c->discard)
		return ST_OK;
	EVP_DigestUpdate(c->md, p, n);
	return c->dst->ops->append_data(c->dst->d, p, n, e);
}

static enum st cp_end(void *ctx, struct err *e)
{
	struct copier *c = ctx;
	if (c->discard)
		return ST_OK;
	unsigned int len = 32;
	EVP_DigestFinal_ex(c->md, c->hash[c->cur], &len);
	return c->dst->ops->append_end(c->dst->d, e);
}

static int64_t sample_bytes(const struct copier *c)
{
	int64_t b = 0;
	for (size_t i = 0; i < c->nok; i++)
		b += (int64_t)c->ok[i].size;
	return b;
}

/* Writes what a chunk learned: map rows for stored messages, journal rows
 * dropped for refused or vanished ones, the job's counters, a sample. */
static enum st commit_results(struct copier *c, struct err *e)
{
	struct mig_ctx *m = c->m;
	if (c->nok == 0 && c->ndrop == 0)
		return ST_OK;
	enum st s = store_begin(m->store, e);
	for (size_t i = 0; !s && i < c->nok; i++) {
		s = store_map_put(m->store, c->fc->folder_id, &c->ok[i], e);
		if (!s)
			s = store_journal_del(m->store, c->fc->folder_id, c->ok[i].src_uid, e);
	}
	for (size_t i = 0; !s && i < c->ndrop; i++)
		s = store_journal_del(m->store, c->fc->folder_id, c->drop[i], e);
	if (!s)
		s = store_job_progress(m->store, m->job, c->fc->src_name, e);
	if (!s && c->nok)  /* throughput history for the Metrics view */
		s = store_sample(m->store, m->dst->id, (int64_t)c->nok, sample_bytes(c), e);
	if (!s)
		s = store_commit(m->store, e);
	else
		store_rollback(m->store);
	c->nok = c->ndrop = 0;
	return s;
}

/* Journals todo[from..to) in one committed transaction: after this,
 * copies of these messages may reach the target. */
static enum st journal_chunk(struct copier *c, size_t from, size_t to, struct err *e)
{
	struct mig_ctx *m = c->m;
	enum st s = store_begin(m->store, e);
	for (size_t i = from; !s && i < to; i++) {
		struct journal_entry j = { c->todo[i]->id, c->fc->dst_validity, c->fc->dst_next,
		                           c->todo[i]->size };
		s = store_journal_add(m->store, c->fc->folder_id, &j, e);
	}
	if (s) {
		store_rollback(m->store);
		return s;
	}
	return store_commit(m->store, e);
}

/* Copies todo[0..n) (sorted by id) into fc->dst_name.  The pipeline never
 * drains between chunks: the next chunk is journaled while the previous
 * one's answers still arrive, so source, target and mailferry stay busy. */
static enum st copy_messages(struct mig_ctx *m, struct side *src, struct side *dst,
                             struct folder_ctx *fc, struct drv_msg **todo, size_t n,
                             struct drv_msg ***retry, size_t *nretry, struct err *e)
{
	*retry = NULL;
	*nretry = 0;
	if (n == 0)
		return ST_OK;
	enum st s = ST_OK;
	if (!fc->dst_next) {
		struct drv_box bi;
		if ((s = dst->ops->folder_status(dst->d, fc->dst_name, &bi, e)))
			return s;
		if (bi.validity != fc->dst_validity)
			return err_set(e, ST_NET, "target folder \"%s\" changed UIDVALIDITY during the pass; "
			               "it will be matched again", fc->dst_name);
		fc->dst_next = bi.next_id ? bi.next_id : 1;
	}
	size_t chunk_max = m->cfg->batch_messages > 0 ? (size_t)m->cfg->batch_messages : 256;
	uint64_t chunk_bytes = (uint64_t)(m->cfg->batch_bytes_mb > 0 ? m->cfg->batch_bytes_mb : 16) << 20;
	struct copier c = {
		.m = m, .fc = fc, .src = src, .dst = dst, .todo = todo, .n = n,
		.md = EVP_MD_CTX_new(),
	};
	c.received = x_calloc(n, sizeof *c.received);
	c.hash = x_calloc(n, sizeof *c.hash);
	c.bytes = x_calloc(n, sizeof *c.bytes);
	struct drv_sink sink = { cp_begin, cp_data, cp_end, &c };
	dst->ops->append_start(dst->d, fc->dst_name, on_append_done, &c);
	size_t journaled = 0;
	while (!s && c.finished < n) {
		bool stopping = m->cancel && *m->cancel;
		/* Journal the next chunk when less than a chunk is left in
		 * flight: enough to keep the pipeline full (half a chunk costs a
		 * fifth of the speed on small messages), and a stop (pause, quit)
		 * waits for at most two chunks of copies. */
		if (journaled < n && journaled - c.finished < chunk_max && !stopping) {
			size_t k = journaled;
			uint64_t bytes = 0;
			while (k < n && k - journaled < chunk_max &&
			       (k == journaled || bytes + todo[k]->size <= chunk_bytes))
				bytes += todo[k++]->size;
			if ((s = journal_chunk(&c, journaled, k, e)))
				break;
			journaled = k;
		}
		while (c.requested < journaled)
			src->ops->fetch_request(src->d, todo[c.requested++]);
		if (c.finished == c.requested) {
			if (stopping)
				s = err_set(e, ST_CANCELED, "stopped at a checkpoint");
			break;
		}
		struct drv_msg *done = NULL;
		enum st item = ST_OK;
		struct err ie;
		s = src->ops->fetch_next(src->d, &sink, &done, &item, &ie);
		if (s) {
			*e = ie;
			break;
		}
		c.finished++;
		size_t k = todo_index(&c, done);
		if (item || (k < n && !c.received[k])) {
			/* Unreadable on the source, or expunged there meanwhile. */
			add_drop(&c, done->id);
			if (item)
				record_item_failure(&c, done, ie.msg);
		}
		s = dst->ops->append_wait(dst->d, false, e);
		if (!s && c.nok + c.ndrop >= chunk_max) {
			s = commit_results(&c, e);
			if (!s && c.hard)
				break;
		}
	}
	if (!s)
		s = dst->ops->append_wait(dst->d, true, e);
	struct err ce;
	enum st cs = commit_results(&c, &ce);
	if (!s && cs) {
		s = cs;
		*e = ce;
	}
	if (!s && c.hard) {
		s = c.hard;
		*e = c.hard_err;
	}
	free(c.received);
	free(c.hash);
	free(c.bytes);
	free(c.ok);
	free(c.drop);
	EVP_MD_CTX_free(c.md);
	if (c.nretry > 1)
		qsort(c.retry, c.nretry, sizeof *c.retry, cmp_msg_ptr);
	*retry = c.retry;
	*nretry = c.nretry;
	return s;
}

/* ------------------------------------------------------------------------ */
/* Reconcile: find in-doubt or pre-existing copies on the target by hash    */

static bool size_in(const struct drv_msg *v, size_t n, const bool *sel, uint64_t size)
{
	for (size_t i = 0; i < n; i++)
		if ((!sel || sel[i]) && v[i].size == size)
			return true;
	return false;
}

/* Hashes l->v[i] for every i with want[i]. */
static enum st hash_selected(struct side *sd, struct drv_msgs *l, const bool *want, struct err *e)
{
	struct drv_msg **sel = x_malloc((l->n ? l->n : 1) * sizeof *sel);
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++)
		if (want[i])
			sel[k++] = &l->v[i];
	enum st s = k ? sd->ops->hash_messages(sd->d, sel, k, e) : ST_OK;
	free(sel);
	return s;
}

/* pending[i]: source message i is not on the target as far as the map
 * knows and may be there (journal) or may have been copied before the map
 * was lost (identity).  Candidates are target messages with id >= from_id
 * that no map row claims.  The target folder is open. */
static enum st reconcile(struct mig_ctx *m, struct side *src, struct side *dst,
                         struct folder_ctx *fc, struct drv_msgs *sl, const bool *pending,
                         uint32_t from_id, const struct map_entry *map, size_t nmap,
                         bool target_empty, struct err *e)
{
	enum st s = ST_OK;
	struct drv_msgs tl = { 0 };
	if (!target_empty && (s = dst->ops->list_messages(dst->d, from_id, &tl, e)))
		return s;
	uint32_t *claimed = x_malloc((nmap ? nmap : 1) * sizeof *claimed);
	for (size_t i = 0; i < nmap; i++)
		claimed[i] = map[i].dst_uid;
	qsort_n(claimed, nmap, sizeof *claimed, cmp_u32);
	bool *cand = x_calloc(tl.n ? tl.n : 1, sizeof *cand);
	for (size_t i = 0; i < tl.n; i++)
		cand[i] = tl.v[i].id >= from_id &&
		          !bsearch_n(&tl.v[i].id, claimed, nmap, sizeof *claimed, cmp_u32);
	/* Hash only where a size matches on the other side. */
	bool *want_src = x_calloc(sl->n ? sl->n : 1, sizeof *want_src);
	bool *want_dst = x_calloc(tl.n ? tl.n : 1, sizeof *want_dst);
	size_t nsrc = 0, ndst = 0;
	for (size_t i = 0; i < sl->n; i++)
		if (pending[i] && size_in(tl.v, tl.n, cand, sl->v[i].size)) {
			want_src[i] = true;
			nsrc++;
		}
	for (size_t i = 0; i < tl.n; i++)
		if (cand[i] && size_in(sl->v, sl->n, want_src, tl.v[i].size)) {
			want_dst[i] = true;
			ndst++;
		}
	if (ndst)
		s = hash_selected(dst, &tl, want_dst, e);
	if (!s && nsrc)
		s = hash_selected(src, sl, want_src, e);
	size_t matched = 0;
	if (!s) {
		s = store_begin(m->store, e);
		for (size_t i = 0; !s && i < sl->n; i++) {
			if (!pending[i])
				continue;
			for (size_t k = 0; want_src[i] && sl->v[i].have_hash && k < tl.n; k++) {
				if (!want_dst[k] || !tl.v[k].have_hash ||
				    memcmp(tl.v[k].hash, sl->v[i].hash, 32) != 0)
					continue;
				want_dst[k] = false; /* each target copy matches once */
				struct map_entry me = { .src_uid = sl->v[i].id, .dst_uid = tl.v[k].id,
				                        .size = tl.v[k].size, .flags = tl.v[k].flags };
				memcpy(me.hash, tl.v[k].hash, 32);
				s = store_map_put(m->store, fc->folder_id, &me, e);
				matched++;
				break;
			}
			if (!s)
				s = store_journal_del(m->store, fc->folder_id, sl->v[i].id, e);
		}
		if (!s)
			s = store_commit(m->store, e);
		else
			store_rollback(m->store);
	}
	if (!s && (nsrc || ndst))
		store_event(m->store, EV_INFO, m->job->id,
		            "folder \"%s\": %zu message(s) already on the target were matched by content; "
		            "%zu candidate(s) examined", fc->src_name, matched, ndst);
	free(claimed);
	free(cand);
	free(want_src);
	free(want_dst);
	drv_msgs_free(&tl);
	return s;
}

/* ------------------------------------------------------------------------ */
/* One folder                                                               */

static enum st record_oversize(struct mig_ctx *m, struct side *src, struct folder_ctx *fc,
                               struct drv_msg **big, size_t n, uint64_t limit, struct err *e)
{
	if (n == 0)
		return ST_OK;
	char **subjects = x_calloc(n, sizeof *subjects);
	enum st s = src->ops->subjects(src->d, big, n, subjects, e);
	char reason[128];
	snprintf(reason, sizeof reason, "larger than the size limit (%llu bytes)",
	         (unsigned long long)limit);
	for (size_t i = 0; i < n; i++) {
		struct err se;
		store_skipped_add(m->store, m->job->id, fc->folder_id, fc->src_name, big[i]->id,
		                  subjects[i], big[i]->size, reason, &se);
		store_event(m->store, EV_WARN, m->job->id, "skipped message %u in \"%s\": %llu bytes, %s",
		            big[i]->id, fc->src_name, (unsigned long long)big[i]->size, reason);
		free(subjects[i]);
	}
	free(subjects);
	m->job->items_skipped += (int64_t)n;
	return s;
}

/* Items the target refused during the copy were recorded without their
 * subject (the body was streaming); fetch the subjects now, in one go. */
static enum st name_refused_items(struct mig_ctx *m, struct side *src, struct folder_ctx *fc,
                                  struct drv_msgs *sl, struct err *e)
{
	uint32_t *ids = NULL;
	size_t n = 0;
	enum st s = store_skipped_without_subject(m->store, m->job->id, fc->folder_id, &ids, &n, e);
	struct drv_msg **msgs = x_malloc((n ? n : 1) * sizeof *msgs);
	size_t k = 0;
	for (size_t i = 0; !s && i < n; i++) {
		struct drv_msg key = { .id = ids[i] };
		struct drv_msg *found = bsearch_n(&key, sl->v, sl->n, sizeof *sl->v, cmp_msg);
		if (found)
			msgs[k++] = found;
	}
	char **subjects = x_calloc(k ? k : 1, sizeof *subjects);
	if (!s && k)
		s = src->ops->subjects(src->d, msgs, k, subjects, e);
	for (size_t i = 0; i < k; i++) {
		if (!s && subjects[i])
			s = store_skipped_set_subject(m->store, m->job->id, fc->folder_id, msgs[i]->id,
			                              subjects[i], e);
		free(subjects[i]);
	}
	free(subjects);
	free(msgs);
	free(ids);
	return s;
}

/* Brings the target's flags in line with the source's for mapped messages. */
static enum st sync_flags(struct mig_ctx *m, struct side *dst, struct folder_ctx *fc,
                          struct drv_msg **msgs, const struct map_entry **ents, size_t n,
                          struct err *e)
{
	if (n == 0)
		return ST_OK;
	uint32_t *ids = x_malloc(n * sizeof *ids);
	char **flags = x_malloc(n * sizeof *flags);
	bool *ok = x_calloc(n, sizeof *ok);
	for (size_t i = 0; i < n; i++) {
		ids[i] = ents[i]->dst_uid;
		flags[i] = msgs[i]->flags;
	}
	enum st s = dst->ops->set_flags(dst->d, ids, flags, n, ok, e);
	if (!s)
		s = store_begin(m->store, e);
	for (size_t i = 0; i < n && !s; i++) {
		if (!ok[i]) {
			store_event(m->store, EV_WARN, m->job->id, "flags of message %u in \"%s\" not updated",
			            msgs[i]->id, fc->src_name);
			continue;
		}
		s = store_map_set_flags(m->store, fc->folder_id, msgs[i]->id, msgs[i]->flags, e);
		m->job->flags_updated++;
	}
	if (!s)
		s = store_commit(m->store, e);
	else
		store_rollback(m->store);
	free(ids);
	free(flags);
	free(ok);
	return s;
}

/* Map rows whose target copy is gone (deleted on the target) are dropped,
 * so that a full pass copies those messages again. */
static enum st forget_vanished_copies(struct mig_ctx *m, struct side *dst, struct folder_ctx *fc,
                                      uint32_t count, struct map_entry **map, size_t *nmap,
                                      struct err *e)
{
	uint32_t *ids = NULL;
	size_t n = 0;
	enum st s = count ? dst->ops->list_ids(dst->d, &ids, &n, e) : ST_OK;
	if (s) {
		free(ids);
		return s;
	}
	size_t gone = 0;
	s = store_begin(m->store, e);
	for (size_t i = 0; !s && i < *nmap; i++) {
		if (bsearch_n(&(*map)[i].dst_uid, ids, n, sizeof *ids, cmp_u32))
			continue;
		s = store_map_del(m->store, fc->folder_id, (*map)[i].src_uid, e);
		gone++;
	}
	if (!s)
		s = store_commit(m->store, e);
	else
		store_rollback(m->store);
	free(ids);
	if (s || gone == 0)
		return s;
	store_event(m->store, EV_WARN, m->job->id, "folder \"%s\": %zu copied message(s) are no longer "
	            "on the target (deleted there?); they are copied again", fc->src_name, gone);
	map_free(*map, *nmap);
	return store_map_load(m->store, fc->folder_id, map, nmap, e);
}

/* Waits until the target folder's next id stops moving (checked every
 * 300 ms, at most about 15 s), then reopens it into *box. */
static enum st wait_target_settled(struct side *dst, const char *name, struct drv_box *box,
                                   struct err *e)
{
	uint32_t last = box->next_id;
	for (int i = 0; i < 50; i++) {
		usleep(300000);
		struct drv_box bi;
		enum st s = dst->ops->folder_status(dst->d, name, &bi, e);
		if (s)
			return s;
		if (bi.next_id == last)
			break;
		log_debug("target folder %s still growing (UIDNEXT %u -> %u)", name, last, bi.next_id);
		last = bi.next_id;
	}
	return dst->ops->open_folder(dst->d, name, true, false, box, e);
}

/* After a pass that resumed a cut-off run: a copy the server stored after
 * the match (the dead connection's last uploads can land late) would now
 * exist twice.  Unclaimed target messages at or above from_id whose bytes
 * equal a mapped message are such copies, made by us: they are removed,
 * and the removal is logged.  The target folder is open. */
static enum st sweep_duplicates(struct mig_ctx *m, struct side *dst, struct folder_ctx *fc,
                                uint32_t from_id, struct err *e)
{
	struct map_entry *map = NULL;
	size_t nmap = 0;
	struct drv_msgs tl = { 0 };
	enum st s = store_map_load(m->store, fc->folder_id, &map, &nmap, e);
	if (!s && nmap)
		s = dst->ops->list_messages(dst->d, from_id, &tl, e);
	if (s || tl.n == 0 || nmap == 0)
		goto out;
	uint32_t *claimed = x_malloc(nmap * sizeof *claimed);
	for (size_t i = 0; i < nmap; i++)
		claimed[i] = map[i].dst_uid;
	qsort_n(claimed, nmap, sizeof *claimed, cmp_u32);
	bool *want = x_calloc(tl.n, sizeof *want);
	for (size_t i = 0; i < tl.n; i++) {
		if (bsearch_n(&tl.v[i].id, claimed, nmap, sizeof *claimed, cmp_u32))
			continue;
		for (size_t k = 0; k < nmap && !want[i]; k++)
			want[i] = map[k].size == tl.v[i].size;
	}
	free(claimed);
	s = hash_selected(dst, &tl, want, e);
	uint32_t *dups = x_malloc(tl.n * sizeof *dups);
	size_t ndups = 0;
	struct sbuf list;
	sb_init(&list);
	for (size_t i = 0; !s && i < tl.n; i++) {
		if (!want[i] || !tl.v[i].have_hash)
			continue;
		for (size_t k = 0; k < nmap; k++)
			if (map[k].size == tl.v[i].size && !memcmp(map[k].hash, tl.v[i].hash, 32)) {
				sb_printf(&list, "%s%u", ndups ? "," : "", tl.v[i].id);
				dups[ndups++] = tl.v[i].id;
				break;
			}
	}
	free(want);
	if (!s && ndups)
		s = dst->ops->remove(dst->d, dups, ndups, e);
	if (!s && ndups)
		store_event(m->store, EV_WARN, m->job->id, "folder \"%s\": removed %zu duplicate "
		            "cop%s that the interrupted run's last uploads left on the target (ids %s)",
		            fc->src_name, ndups, ndups == 1 ? "y" : "ies", list.data);
	sb_free(&list);
	free(dups);
out:
	map_free(map, nmap);
	drv_msgs_free(&tl);
	return s;
}

/* Retry-errors: the failed items now on the target (in the map) are failed
 * no more. */
static enum st forget_retried(struct mig_ctx *m, int64_t folder_id, const uint32_t *ids, size_t n,
                              struct err *e)
{
	struct map_entry *map = NULL;
	size_t nmap = 0;
	enum st s = store_map_load(m->store, folder_id, &map, &nmap, e);
	for (size_t i = 0; !s && i < n; i++)
		if (map_find(map, nmap, ids[i]))
			s = store_failed_done(m->store, m->job->id, folder_id, ids[i], e);
	map_free(map, nmap);
	return s;
}

/* An empty source folder with nothing copied and nothing in flight needs
 * no visit to the target: then *skipped is set and the folder row updated. */
static enum st skip_if_nothing_to_do(struct mig_ctx *m, struct folder_row *fr,
                                     const struct drv_folder *sf, const struct drv_box *sbi,
                                     bool *skipped, struct err *e)
{
	struct map_entry *map = NULL;
	struct journal_entry *jr = NULL;
	size_t nmap = 0, njr = 0;
	enum st s = store_map_load(m->store, fr->id, &map, &nmap, e);
	if (!s)
		s = store_journal_load(m->store, fr->id, &jr, &njr, e);
	map_free(map, nmap);
	free(jr);
	if (s)
		return s;
	if (nmap || njr)
		return ST_OK;
	*skipped = true;
	free(fr->dst_name);
	fr->dst_name = x_strdup(sf->dst);
	fr->src_uidvalidity = sbi->validity;
	return store_folder_update(m->store, fr, e);
}

static enum st copy_folder(struct mig_ctx *m, struct side *src, struct side *dst,
                           const struct drv_folder *sf, struct err *e)
{
	struct job *job = m->job;
	struct folder_row fr;
	enum st s = store_folder_get(m->store, job->pair_id, sf->name, &fr, e);
	if (s)
		return s;
	struct drv_box sbi, dbi;
	bool counters = src->ops->has(src->d, DRV_CHANGE_COUNTER);
	struct drv_msgs sl = { 0 };
	struct map_entry *map = NULL;
	size_t nmap = 0;
	struct journal_entry *jr = NULL;
	size_t njr = 0;
	struct drv_msg **todo = NULL, **big = NULL, **reflag = NULL;
	const struct map_entry **reflag_ent = NULL;
	size_t ntodo = 0, nbig = 0, nreflag = 0;
	bool *pending = NULL;

	uint32_t *retry_ids = NULL;
	size_t nretry_ids = 0;
	if (job->retry_errors) {
		/* Retry-errors: only this folder's failed items, if any. */
		if ((s = store_failed_uids(m->store, job->id, fr.id, &retry_ids, &nretry_ids, e)) ||
		    nretry_ids == 0)
			goto out;
	}
	if (!fr.dst_name && sf->note)
		store_event(m->store, EV_WARN, job->id, "%s", sf->note); /* first mapping only */
	if ((s = src->ops->open_folder(src->d, sf->name, false, true, &sbi, e)))
		goto out;
	bool skipped = false;
	if (sbi.count == 0 && ((s = skip_if_nothing_to_do(m, &fr, sf, &sbi, &skipped, e)) || skipped))
		goto out;
	/* The target folder stays open for the whole folder: servers such as
	 * Dovecot reopen an unselected mailbox for every APPEND. */
	if ((s = dst->ops->open_folder(dst->d, sf->dst, true, false, &dbi, e)))
		goto out;
	bool identity = false;
	if (fr.src_uidvalidity && fr.src_uidvalidity != sbi.validity) {
		store_event(m->store, EV_WARN, job->id, "source folder \"%s\" has a new UIDVALIDITY; "
		            "its messages are matched again by content", sf->name);
		identity = true;
	}
	if (fr.dst_uidvalidity && fr.dst_uidvalidity != dbi.validity) {
		store_event(m->store, EV_WARN, job->id, "target folder \"%s\" has a new UIDVALIDITY; "
		            "its messages are matched again by content", sf->dst);
		identity = true;
	}
	if (identity && (s = store_map_clear(m->store, fr.id, e)))
		goto out;
	if ((s = store_journal_load(m->store, fr.id, &jr, &njr, e)))
		goto out;
	bool recovering = njr > 0;
	uint32_t sweep_from = UINT32_MAX;
	for (size_t i = 0; i < njr; i++)
		if (jr[i].dst_uidnext < sweep_from)
			sweep_from = jr[i].dst_uidnext;
	/* A previous run was cut off.  The server may still be storing the
	 * uploads that were in its input when the connection died; matching
	 * before they land would copy them twice. */
	if (recovering && (s = wait_target_settled(dst, sf->dst, &dbi, e)))
		goto out;
	bool complete_pass = job->o.pass == PASS_FULL || job->o.pass == PASS_DELTA;
	/* Only a delta pass trusts the map alone; a full pass also checks that
	 * every mapped copy is still on the target. */
	if (!identity && njr == 0 && job->o.pass == PASS_DELTA && counters && sbi.modseq &&
	    fr.src_uidvalidity == sbi.validity && fr.src_uidnext == sbi.next_id &&
	    fr.src_modseq == sbi.modseq && fr.dst_uidvalidity == dbi.validity &&
	    fr.dst_name && !strcmp(fr.dst_name, sf->dst)) {
		log_debug("folder %s unchanged since the last pass", sf->name);
		goto out;
	}
	if (sbi.count > 0 && (s = src->ops->list_messages(src->d, 1, &sl, e)))
		goto out;
	if ((s = store_map_load(m->store, fr.id, &map, &nmap, e)))
		goto out;
	if (nmap == 0 && dbi.count > 0)
		identity = true; /* the map is gone but the target has mail: match first */

	struct folder_ctx fc = { fr.id, sf->name, sf->dst, dbi.validity, dbi.next_id };
	/* Fewer messages on the target than were copied there: some copies
	 * were deleted, and a full pass brings them back. */
	if (job->o.pass != PASS_DELTA && !job->retry_errors && nmap > dbi.count && !identity &&
	    (s = forget_vanished_copies(m, dst, &fc, dbi.count, &map, &nmap, e)))
		goto out;
	if ((identity || njr > 0) && sl.n > 0) {
		pending = x_calloc(sl.n, sizeof *pending);
		uint32_t from_id = UINT32_MAX;
		for (size_t i = 0; i < njr; i++)
			if (jr[i].dst_uidvalidity == dbi.validity && jr[i].dst_uidnext < from_id)
				from_id = jr[i].dst_uidnext;
		if (identity || from_id == UINT32_MAX)
			from_id = 1;
		size_t k = 0;
		for (size_t i = 0; i < sl.n; i++) {
			if (map_find(map, nmap, sl.v[i].id))
				continue;
			if (identity) {
				pending[i] = true;
				continue;
			}
			while (k < njr && jr[k].src_uid < sl.v[i].id)
				k++;
			pending[i] = k < njr && jr[k].src_uid == sl.v[i].id;
		}
		if ((s = reconcile(m, src, dst, &fc, &sl, pending, from_id, map, nmap, dbi.count == 0, e)))
			goto out;
		map_free(map, nmap);
		if ((s = store_map_load(m->store, fr.id, &map, &nmap, e)))
			goto out;
	}
	if (njr > 0 && sl.n == 0) {
		/* Source folder emptied: the journal rows have nothing to match. */
		s = store_begin(m->store, e);
		for (size_t i = 0; !s && i < njr; i++)
			s = store_journal_del(m->store, fr.id, jr[i].src_uid, e);
		if (!s)
			s = store_commit(m->store, e);
		if (s)
			goto out;
	}

	/* What to copy, what to skip, what to re-flag. */
	uint64_t limit = dst->ops->size_limit(dst->d);
	if (job->o.max_size > 0 && (limit == 0 || (uint64_t)job->o.max_size < limit))
		limit = (uint64_t)job->o.max_size;
	int64_t cutoff = clock_now() - (int64_t)job->o.prestage_days * 86400;
	size_t cap = sl.n ? sl.n : 1;
	todo = x_malloc(cap * sizeof *todo);
	big = x_malloc(cap * sizeof *big);
	reflag = x_malloc(cap * sizeof *reflag);
	reflag_ent = x_malloc(cap * sizeof *reflag_ent);
	size_t trial_left = job->o.pass != PASS_TRIAL ? SIZE_MAX :
	                    nmap >= (size_t)job->o.trial_items ? 0 : (size_t)job->o.trial_items - nmap;
	bool undone = false;
	for (size_t i = 0; i < sl.n; i++) {
		struct drv_msg *msg = &sl.v[i];
		const struct map_entry *me = map_find(map, nmap, msg->id);
		if (me) {
			if (strcmp(me->flags ? me->flags : "", msg->flags) != 0) {
				reflag[nreflag] = msg;
				reflag_ent[nreflag++] = me;
			}
			continue;
		}
		if (job->retry_errors && !bsearch_n(&msg->id, retry_ids, nretry_ids, sizeof *retry_ids, cmp_u32)) {
			undone = true;   /* not a failed item: left to the next pass */
			continue;
		}
		if (job->o.pass == PASS_PRESTAGE && msg->date >= cutoff) {
			undone = true;
			continue;
		}
		if (limit && msg->size > limit) {
			big[nbig++] = msg;
			continue;
		}
		if (trial_left == 0) {
			undone = true;
			continue;
		}
		if (trial_left != SIZE_MAX)
			trial_left--;
		todo[ntodo++] = msg;
	}
	if ((s = record_oversize(m, src, &fc, big, nbig, limit, e)))
		goto out;
	struct drv_msg **again = NULL;
	size_t nagain = 0;
	s = copy_messages(m, src, dst, &fc, todo, ntodo, &again, &nagain, e);
	if (!s && nagain) {
		/* The driver grouped these with a refused message; one by one
		 * now (it no longer groups), so only the culprit fails. */
		struct drv_msg **again2 = NULL;
		size_t nagain2 = 0;
		s = copy_messages(m, src, dst, &fc, again, nagain, &again2, &nagain2, e);
		for (size_t i = 0; !s && i < nagain2; i++) {
			struct err fe;
			m->job->items_failed++;
			store_event(m->store, EV_WARN, job->id, "message %u in \"%s\" refused twice by the "
			            "target", again2[i]->id, sf->name);
			store_item_failed_add(m->store, job->id, fr.id, sf->name, again2[i]->id, again2[i]->size,
			                      "refused twice by the target", &fe);
		}
		free(again2);
	}
	free(again);
	/* Without ids in the answers no copy was mapped: match them by hash
	 * now (the journal still lists them). */
	if (!s && ntodo && !dst->ops->has(dst->d, DRV_APPEND_IDS)) {
		bool *pend = x_calloc(sl.n, sizeof *pend);
		for (size_t t = 0; t < ntodo; t++)
			pend[todo[t] - sl.v] = true;
		map_free(map, nmap);
		map = NULL;
		nmap = 0;
		s = store_map_load(m->store, fr.id, &map, &nmap, e);
		if (!s)
			s = reconcile(m, src, dst, &fc, &sl, pend, 1, map, nmap, false, e);
		free(pend);
	}
	if (!s)
		s = name_refused_items(m, src, &fc, &sl, e);
	if (!s)
		s = sync_flags(m, dst, &fc, reflag, reflag_ent, nreflag, e);
	if (!s && recovering)
		s = sweep_duplicates(m, dst, &fc, sweep_from, e);
	if (!s && job->retry_errors)
		s = forget_retried(m, fr.id, retry_ids, nretry_ids, e);
	if (!s) {
		free(fr.dst_name);
		fr.dst_name = x_strdup(sf->dst);
		fr.src_uidvalidity = sbi.validity;
		fr.dst_uidvalidity = dbi.validity;
		/* Only a pass that left nothing undone may skip the folder next time. */
		bool all_done = complete_pass && !undone && nbig == 0;
		fr.src_uidnext = all_done ? sbi.next_id : 0;
		fr.src_modseq = all_done ? sbi.modseq : 0;
		s = store_folder_update(m->store, &fr, e);
	}
out:
	if (s)
		err_prefix(e, "folder \"%s\"", sf->name);
	free(retry_ids);
	free(todo);
	free(big);
	free(reflag);
	free(reflag_ent);
	free(pending);
	free(jr);
	map_free(map, nmap);
	drv_msgs_free(&sl);
	folder_row_free(&fr);
	return s;
}

/* ------------------------------------------------------------------------ */
/* The mailbox                                                              */

struct session {
	struct side src, dst;
	struct drv_folders sf, df;
	struct fm_rules rules;
	bool rules_ready;
};

static void session_end(struct session *ss)
{
	if (ss->src.d)
		ss->src.ops->close(&ss->src.d);
	if (ss->dst.d)
		ss->dst.ops->close(&ss->dst.d);
	drv_folders_free(&ss->sf);
	drv_folders_free(&ss->df);
	if (ss->rules_ready)
		fm_rules_free(&ss->rules);
}

static enum st open_side(const struct endpoint *ep, const char *secret, const char *user,
                         const char *role, int timeout_s, struct side *sd, struct err *e)
{
	sd->ops = drv_for_endpoint(ep);
	if (!sd->ops)
		return err_set(e, ST_CONFIG, "endpoint %s: no driver for URL %s", ep->name, ep->url);
	return sd->ops->connect(ep, secret, user, role, timeout_s, &sd->d, e);
}

/* Connects both sides, lists folders and maps every source folder. */
static enum st session_start(struct mig_ctx *m, struct session *ss, struct err *e)
{
	memset(ss, 0, sizeof *ss);
	int to = m->cfg->timeout_s;
	enum st s = open_side(m->src, m->src_secret, m->job->src_user, "source", to, &ss->src, e);
	if (s)
		m->failed_endpoint = m->src->id;
	if (!s && (s = open_side(m->dst, m->dst_secret, m->job->dst_user, "target", to, &ss->dst, e)))
		m->failed_endpoint = m->dst->id;
	if (!s) {
		m->failed_endpoint = 0;
		m->connected = true;
		s = ss->src.ops->list_folders(ss->src.d, &ss->sf, e);
	}
	if (!s)
		s = ss->dst.ops->list_folders(ss->dst.d, &ss->df, e);
	if (s)
		return s;
	s = fm_rules_init(&ss->rules, ss->sf.delim, ss->df.delim, m->job->o.sep_char,
	                  m->job->o.include, m->job->o.exclude, m->job->o.folder_map, e);
	if (s)
		return s;
	ss->rules_ready = true;
	/* Special-use folders pair up across servers, whatever their names. */
	for (size_t i = 0; i < ss->sf.n; i++) {
		const struct drv_folder *f = &ss->sf.v[i];
		if (f->special == SU_NONE)
			continue;
		for (size_t k = 0; k < ss->df.n; k++)
			if (ss->df.v[k].special == f->special) {
				fm_add_prefix(&ss->rules, drv_strip_prefix(&ss->sf, f->name),
				              drv_strip_prefix(&ss->df, ss->df.v[k].name));
				break;
			}
	}
	/* Names are mapped relative to each side's personal namespace. */
	for (size_t i = 0; i < ss->sf.n; i++) {
		char *note = NULL, *rel = NULL;
		if (!fm_map(&ss->rules, drv_strip_prefix(&ss->sf, ss->sf.v[i].name), &rel, &note))
			continue;
		ss->sf.v[i].note = note;
		const char *pfx = strcasecmp(rel, "INBOX") ? ss->df.prefix : "";
		ss->sf.v[i].dst = x_asprintf("%s%s", pfx ? pfx : "", rel);
		free(rel);
	}
	return ST_OK;
}

static enum st ensure_target_folder(struct mig_ctx *m, struct session *ss,
                                    const struct drv_folder *f, struct err *e)
{
	struct drv_folder *have = drv_folders_find(&ss->df, f->dst);
	if (have)
		return ST_OK;
	/* A driver may answer later (with the folder's opening): a failure
	 * then surfaces from open_folder, naming the folder. */
	enum st s = ss->dst.ops->create_folder(ss->dst.d, f->dst, f->subscribed, e);
	if (s) {
		err_prefix(e, "creating target folder \"%s\"", f->dst);
		return st_retry_class(s) == RETRY_ITEM ? ST_MAILBOX : s;
	}
	ss->df.v = x_realloc(ss->df.v, (ss->df.n + 1) * sizeof *ss->df.v);
	have = &ss->df.v[ss->df.n++];
	memset(have, 0, sizeof *have);
	have->name = x_strdup(f->dst);
	store_event(m->store, EV_INFO, m->job->id, "created target folder \"%s\"", f->dst);
	return ST_OK;
}

enum st mig_run(struct mig_ctx *m, struct err *e)
{
	struct session ss;
	struct job *job = m->job;
	enum st s = session_start(m, &ss, e);
	if (s) {
		session_end(&ss);
		return s;
	}
	if (job->o.pass == PASS_VERIFY_CREDENTIALS) {
		store_event(m->store, EV_INFO, job->id, "credentials verified: source lists %zu folder(s), "
		            "target lists %zu", ss.sf.n, ss.df.n);
		session_end(&ss);
		return ST_OK;
	}
	int64_t items_before = job->items_done, skipped_before = job->items_skipped,
	        failed_before = job->items_failed, flags_before = job->flags_updated,
	        bytes_before = job->bytes_done;
	int64_t pass_id = 0;
	struct err pe;
	if (store_pass_begin(m->store, job->id, job->retry_errors ? "retry-errors" : pass_kind_name(job->o.pass),
	                     &pass_id, &pe))
		log_warn("%s", pe.msg);
	for (size_t i = 0; i < ss.sf.n && !s; i++) {
		const struct drv_folder *f = &ss.sf.v[i];
		if (!f->dst)
			continue; /* excluded by the rules */
		if (m->cancel && *m->cancel) {
			s = err_set(e, ST_CANCELED, "stopped at a checkpoint");
			break;
		}
		s = ensure_target_folder(m, &ss, f, e);
		if (!s && !f->noselect) {
			if (!m->quiet)
				log_info("%s: folder \"%s\" -> \"%s\"", job->src_user, f->name, f->dst);
			s = copy_folder(m, &ss.src, &ss.dst, f, e);
		}
		if (s && (st_retry_class(s) == RETRY_ITEM || s == ST_MAILBOX) && s != ST_QUOTA) {
			/* One folder that cannot be read or created: report, go on. */
			store_event(m->store, EV_ERROR, job->id, "%s", e->msg);
			job->items_failed++;
			s = ST_OK;
		}
		if (job->o.bad_item_limit >= 0 && job->items_failed > job->o.bad_item_limit)
			s = err_set(e, ST_MAILBOX, "%lld items failed, more than the bad-item limit (%d)",
			            (long long)job->items_failed, job->o.bad_item_limit);
	}
	int64_t left;
	if (!s && job->retry_errors && !store_failed_count(m->store, job->id, &left, &pe))
		job->items_failed = left;   /* what retry-errors could not copy either */
	store_job_progress(m->store, job, NULL, &pe);
	if (pass_id)
		store_pass_end(m->store, pass_id, s ? st_name(s) : "ok", job->items_done - items_before,
		               job->bytes_done - bytes_before, job->items_skipped - skipped_before,
		               job->items_failed - failed_before, job->flags_updated - flags_before, &pe);
	store_event(m->store, s ? EV_WARN : EV_INFO, job->id,
	            "%s pass %s: %lld copied, %lld re-flagged, %lld skipped, %lld failed",
	            pass_kind_name(job->o.pass), s ? "stopped" : "finished",
	            (long long)(job->items_done - items_before), (long long)(job->flags_updated - flags_before),
	            (long long)(job->items_skipped - skipped_before),
	            (long long)(job->items_failed - failed_before));
	session_end(&ss);
	if (!s && (job->items_skipped > 0 || job->items_failed > 0))
		return err_set(e, ST_PARTIAL, "%lld item(s) skipped and %lld failed: see 'mailferry skipped --job %lld'",
		               (long long)job->items_skipped, (long long)job->items_failed, (long long)job->id);
	return s;
}

enum st mig_run_with_retries(struct mig_ctx *m, struct err *e)
{
	int max = m->cfg->retry_max > 0 ? m->cfg->retry_max : 0;
	for (int attempt = 0;; attempt++) {
		enum st s = mig_run(m, e);
		enum retry_class rc = st_retry_class(s);
		if (s == ST_OK || s == ST_PARTIAL || (rc != RETRY_NOW && rc != RETRY_LATER) ||
		    attempt >= max || (m->cancel && *m->cancel))
			return s;
		/* A server that never answered is down or misconfigured: say so
		 * now (exit 75, run again later) instead of retrying blindly. */
		if (!m->connected && (s == ST_NET || s == ST_TIMEOUT))
			return s;
		int wait = rc == RETRY_LATER ? 5 << (attempt < 4 ? attempt : 4) : 1 << (attempt < 3 ? attempt : 3);
		if (e->retry_after_s > 0)
			wait = e->retry_after_s;
		if (rc == RETRY_NOW && attempt == 0)
			wait = 0;
		store_event(m->store, EV_WARN, m->job->id, "%s; retrying in %d s (attempt %d of %d)", e->msg,
		            wait, attempt + 1, max);
		for (int t = 0; t < wait * 10 && !(m->cancel && *m->cancel); t++)
			usleep(100000);
	}
}

/* ------------------------------------------------------------------------ */
/* Verify                                                                   */

/* qsort has no context argument: the list being sorted, for cmp_size_date
 * (verify runs one folder at a time on one thread). */
static _Thread_local const struct drv_msg *g_sort_list;

static int cmp_size_date(const void *a, const void *b)
{
	const struct drv_msg *x = &g_sort_list[*(const size_t *)a], *y = &g_sort_list[*(const size_t *)b];
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Messages the map does not know (migrated through another endpoint name,
 * by another tool, or before the store was lost) are matched by size and
 * arrival time; with deep their bytes are compared too. */
static void match_unmapped(struct drv_msgs *sl, struct drv_msgs *tl, const size_t *unmatched,
                           size_t nunmatched, bool *used, bool *want_t, bool *want_s,
                           size_t *pair_of, bool deep, struct verify_result *vr)
{
	size_t *order = x_malloc((tl->n ? tl->n : 1) * sizeof *order);
	size_t no = 0;
	for (size_t k = 0; k < tl->n; k++)
		if (!used[k])
			order[no++] = k;
	g_sort_list = tl->v;
	qsort_n(order, no, sizeof *order, cmp_size_date);
	for (size_t u = 0; u < nunmatched; u++) {
		const struct drv_msg *sm = &sl->v[unmatched[u]];
		size_t lo = 0, hi = no;
		while (lo < hi) {   /* first candidate >= (size, date) */
			size_t mid = (lo + hi) / 2;
			const struct drv_msg *t = &tl->v[order[mid]];
			if (t->size < sm->size || (t->size == sm->size && t->date < sm->date))
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < no; lo++) {
			const struct drv_msg *t = &tl->v[order[lo]];
			if (t->size != sm->size || t->date != sm->date)
				break;
			if (used[order[lo]])
				continue;
			used[order[lo]] = true;
			vr->missing--;
			if (strcmp(t->flags, sm->flags) != 0) {
				vr->differ++;
			} else if (deep) {
				want_t[order[lo]] = true;
				want_s[unmatched[u]] = true;
				pair_of[order[lo]] = unmatched[u] + 1;
			}
			break;
		}
	}
	free(order);
}

static enum st verify_folder(struct mig_ctx *m, struct session *ss, const struct drv_folder *f,
                             bool deep, struct verify_result *vr, struct err *e)
{
	struct folder_row fr;
	enum st s = store_folder_get(m->store, m->job->pair_id, f->name, &fr, e);
	if (s)
		return s;
	struct drv_box bi;
	struct drv_msgs sl = { 0 }, tl = { 0 };
	struct map_entry *map = NULL;
	size_t nmap = 0;
	uint32_t *skipped = NULL;
	size_t nskipped = 0;
	struct side *src = &ss->src, *dst = &ss->dst;
	const char *dname = fr.dst_name ? fr.dst_name : f->dst;
	if ((s = src->ops->open_folder(src->d, f->name, false, false, &bi, e)))
		goto out;
	if (bi.count && (s = src->ops->list_messages(src->d, 1, &sl, e)))
		goto out;
	if (!drv_folders_find(&ss->df, dname)) {
		vr->missing += (int64_t)sl.n;
		vr->source += (int64_t)sl.n;
		store_event(m->store, EV_WARN, m->job->id, "verify: target folder \"%s\" does not exist", dname);
		goto out;
	}
	if ((s = dst->ops->open_folder(dst->d, dname, false, false, &bi, e)))
		goto out;
	if (bi.count && (s = dst->ops->list_messages(dst->d, 1, &tl, e)))
		goto out;
	if ((s = store_map_load(m->store, fr.id, &map, &nmap, e)))
		goto out;
	if ((s = store_skipped_uids(m->store, fr.id, &skipped, &nskipped, e)))
		goto out;
	size_t tn = tl.n ? tl.n : 1, sn = sl.n ? sl.n : 1;
	bool *used = x_calloc(tn, sizeof *used);
	bool *want_t = x_calloc(tn, sizeof *want_t);
	bool *want_s = x_calloc(sn, sizeof *want_s);
	size_t *pair_of = x_calloc(tn, sizeof *pair_of);    /* source index + 1 */
	const struct map_entry **for_t = x_calloc(tn, sizeof *for_t);
	size_t *unmatched = x_malloc(sn * sizeof *unmatched), nunmatched = 0;
	vr->folders++;
	vr->source += (int64_t)sl.n;
	vr->target += (int64_t)tl.n;
	for (size_t i = 0; i < sl.n; i++) {
		const struct drv_msg *sm = &sl.v[i];
		const struct map_entry *me = map_find(map, nmap, sm->id);
		struct drv_msg key = { .id = me ? me->dst_uid : 0 };
		struct drv_msg *tm = me ? bsearch_n(&key, tl.v, tl.n, sizeof *tl.v, cmp_msg) : NULL;
		if (!tm) {
			if (bsearch_n(&sm->id, skipped, nskipped, sizeof *skipped, cmp_u32)) {
				vr->skipped++;
			} else {
				vr->missing++;
				unmatched[nunmatched++] = i;
			}
			continue;
		}
		size_t ti = (size_t)(tm - tl.v);
		used[ti] = true;
		if (tm->size != sm->size || strcmp(tm->flags, sm->flags) != 0 || tm->date != sm->date) {
			vr->differ++;
			store_event(m->store, EV_WARN, m->job->id,
			            "verify: \"%s\" message %u differs on the target (id %u): size %llu/%llu, "
			            "flags (%s)/(%s)", f->name, sm->id, tm->id, (unsigned long long)sm->size,
			            (unsigned long long)tm->size, sm->flags, tm->flags);
			continue;
		}
		if (deep) {
			want_t[ti] = true;
			for_t[ti] = me;
		}
	}
	if (nunmatched)
		match_unmapped(&sl, &tl, unmatched, nunmatched, used, want_t, want_s, pair_of, deep, vr);
	for (size_t k = 0; k < tl.n; k++)
		if (!used[k])
			vr->extra++;
	if (deep && tl.n) {
		s = hash_selected(dst, &tl, want_t, e);
		if (!s && sl.n)
			s = hash_selected(src, &sl, want_s, e);
		for (size_t k = 0; !s && k < tl.n; k++) {
			if (!want_t[k])
				continue;
			const unsigned char *expect = pair_of[k] ? sl.v[pair_of[k] - 1].hash : for_t[k]->hash;
			if (!tl.v[k].have_hash || memcmp(tl.v[k].hash, expect, 32) != 0)
				vr->differ++;
		}
	}
	free(used);
	free(want_t);
	free(want_s);
	free(pair_of);
	free(for_t);
	free(unmatched);
out:
	free(skipped);
	map_free(map, nmap);
	drv_msgs_free(&sl);
	drv_msgs_free(&tl);
	folder_row_free(&fr);
	return s;
}

enum st mig_verify(struct mig_ctx *m, bool deep, struct verify_result *vr, struct err *e)
{
	memset(vr, 0, sizeof *vr);
	struct session ss;
	enum st s = session_start(m, &ss, e);
	for (size_t i = 0; !s && i < ss.sf.n; i++) {
		const struct drv_folder *f = &ss.sf.v[i];
		if (!f->dst || f->noselect)
			continue;
		s = verify_folder(m, &ss, f, deep, vr, e);
	}
	session_end(&ss);
	if (!s) {
		char *v = mig_verdict(m, vr);
		store_event(m->store, vr->missing || vr->differ ? EV_WARN : EV_INFO, m->job->id, "%s", v);
		free(v);
	}
	return s;
}

/* 5412 -> "5 412", as people read large counts. */
static void group_digits(int64_t v, char *buf, size_t cap)
{
	char raw[32];
	snprintf(raw, sizeof raw, "%lld", (long long)v);
	size_t len = strlen(raw), o = 0;
	for (size_t i = 0; i < len && o + 2 < cap; i++) {
		if (i && (len - i) % 3 == 0 && raw[i - 1] != '-')
			buf[o++] = ' ';
		buf[o++] = raw[i];
	}
	buf[o] = '\0';
}

char *mig_verdict(const struct mig_ctx *m, const struct verify_result *vr)
{
	char total[32], on[32];
	group_digits(vr->source, total, sizeof total);
	group_digits(vr->source - vr->missing - vr->skipped, on, sizeof on);
	const char *grade = vr->missing == 0 && vr->differ == 0 ? (vr->skipped ? "B" : "A")
	                    : (vr->missing + vr->differ) * 100 < vr->source ? "C" : "F";
	struct sbuf b;
	sb_init(&b);
	if (vr->missing == 0 && vr->skipped == 0)
		sb_printf(&b, "all %s messages of %s are on the target", total, m->job->src_user);
	else
		sb_printf(&b, "%s of %s messages of %s are on the target", on, total, m->job->src_user);
	sb_printf(&b, "; %lld missing, %lld extra, %lld differ", (long long)vr->missing,
	          (long long)vr->extra, (long long)vr->differ);
	if (vr->skipped)
		sb_printf(&b, ", %lld skipped (see 'mailferry skipped')", (long long)vr->skipped);
	sb_printf(&b, " (%d folders; consistency grade %s)", vr->folders, grade);
	return b.data;
}
