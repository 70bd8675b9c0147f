/* forecast.c - the queue simulated; see forecast.h. */
#include "config.h"

#include "forecast.h"
#include "lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *forecast_basis_name(enum forecast_basis b)
{
	return b == FORECAST_MEASURED ? "measured" : "default";
}

/* --- a binary min-heap of (key, job index) ---------------------------------
 * Ties go to the lower index, which is the earlier queue place. */

struct hent {
	int64_t key;
	size_t idx;
};

struct heap {
	struct hent *v;
	size_t n, cap;
};

static bool hless(const struct hent *a, const struct hent *b)
{
	return a->key < b->key || (a->key == b->key && a->idx < b->idx);
}

static void heap_push(struct heap *h, int64_t key, size_t idx)
{
	h->v = x_grow(h->v, h->n, &h->cap, sizeof *h->v, 64);
	struct hent e = { key, idx };
	size_t i = h->n++;
	while (i > 0 && hless(&e, &h->v[(i - 1) / 2])) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = e;
}

static struct hent heap_pop(struct heap *h)
{
	struct hent top = h->v[0], last = h->v[--h->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && hless(&h->v[c + 1], &h->v[c]))
			c++;
		if (!hless(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

/* --- the simulation ---------------------------------------------------------------- */

/* Jobs that a blackout window and a connection limit treat alike form a
 * class: the same source and target endpoint, phase, site, forest mode,
 * and mailbox when a window names it.  A class waits as a whole: when its
 * first job is held until U, every job of the class is, so the class
 * leaves the line until U in one step; when its endpoint is full, the
 * class waits for a connection.  So a night when every site is held costs
 * one look-up per class, not one per queued job (100 000 jobs would
 * otherwise be tried again after every job that ends). */
struct hold { int64_t from, until; const char *name; };

enum cstate { C_READY, C_HELD, C_BLOCKED };

struct cls {
	int src, dst;               /* endpoint index, -1: unknown (no limit) */
	enum bo_phase phase;
	struct bo_subject subj;     /* of its first job: what windows see */
	int site;                   /* interned site, -1 none */
	int64_t mailbox_id;         /* only when a window names the mailbox */
	struct heap q;              /* its waiting jobs by queue place */
	enum cstate state;
	int64_t entry_key;          /* key of its valid entry in sim.cready; -1 none */
	struct hold *holds;         /* when windows held it, oldest first */
	size_t nholds, capholds;
};

/* What the simulation keeps per job besides the caller's row. */
struct jstate {
	int cls;
	double left;                /* bytes still to copy */
	int64_t seg_start;          /* the running segment began */
	int64_t waiting_since;      /* joined its class's line */
	bool stopped;               /* the running segment ends at a window */
	const char *stop_name;      /* that window */
	bool begun;
	int final_cls;              /* the class of its final pass after this one; -1 none */
};

/* Classes waiting for a connection on one endpoint. */
struct waitlist {
	int *v;
	size_t n, cap;
};

struct sim {
	const struct forecast_params *p;
	struct forecast_job *jobs;
	size_t n;
	struct jstate *js;
	struct cls *cls;
	size_t ncls, capcls;
	int *in_use;                /* connections held per endpoint, then per host */
	struct waitlist *waiting;   /* per endpoint, then per host */
	int *ep_host;               /* per endpoint: its host's index in in_use/waiting, -1 none */
	size_t nslots;              /* endpoints + hosts */
	struct heap cready;         /* classes that may start a job, key: their first job's place */
	struct heap deferred;       /* key: a time; idx < n a job that may join its class again,
	                             * else n + class whose hold ends */
	struct heap running;        /* key: end of the running segment */
	int busy;                   /* workers in use */
	int64_t horizon;
};

double forecast_job_rate(const struct forecast_params *p, int64_t dst_ep, enum forecast_basis *basis)
{
	for (size_t i = 0; i < p->neps; i++) {
		const struct forecast_endpoint *ep = &p->eps[i];
		if (ep->id != dst_ep || ep->measured_rate <= 0)
			continue;
		/* The endpoint's throughput is shared by the jobs that can run on
		 * it at once. */
		int share = p->workers;
		if (ep->max_connections > 0 && ep->max_connections < share)
			share = ep->max_connections;
		*basis = FORECAST_MEASURED;
		return ep->measured_rate / share;
	}
	*basis = FORECAST_DEFAULT;
	return p->default_rate;
}

static int ep_index(const struct forecast_params *p, int64_t id)
{
	for (size_t i = 0; i < p->neps; i++)
		if (p->eps[i].id == id)
			return (int)i;
	return -1;
}

static bool ep_full(const struct sim *s, int k)
{
	return k >= 0 && s->p->eps[k].max_connections > 0 && s->in_use[k] >= s->p->eps[k].max_connections;
}

static int host_of(const struct sim *s, int ep)
{
	return ep >= 0 ? s->ep_host[ep] : -1;
}

/* Connections a job of the class takes on host slot h: one per endpoint
 * on that host (two when source and target share it), as the engine's
 * claim counts them (store_job_claim_unheld). */
static int host_need(const struct sim *s, const struct cls *c, int h)
{
	return (host_of(s, c->src) == h) + (host_of(s, c->dst) == h);
}

static bool host_full(const struct sim *s, const struct cls *c, int h)
{
	return h >= 0 && s->p->host_limit > 0 && s->in_use[h] + host_need(s, c, h) > s->p->host_limit;
}

/* The endpoint or host slot a job of the class waits for; -1: it may start. */
static int class_full(const struct sim *s, const struct cls *c)
{
	if (ep_full(s, c->src))
		return c->src;
	if (ep_full(s, c->dst))
		return c->dst;
	if (host_full(s, c, host_of(s, c->src)))
		return host_of(s, c->src);
	if (host_full(s, c, host_of(s, c->dst)))
		return host_of(s, c->dst);
	return -1;
}

/* Connections: one per endpoint the job touches (once when source and
 * target are the same endpoint), and one on the host of each. */
static void hold_connections(struct sim *s, const struct cls *c, int delta)
{
	if (c->src >= 0)
		s->in_use[c->src] += delta;
	if (c->dst >= 0 && c->dst != c->src)
		s->in_use[c->dst] += delta;
	int hs = host_of(s, c->src), hd = host_of(s, c->dst);
	if (hs >= 0)
		s->in_use[hs] += delta;
	if (hd >= 0)
		s->in_use[hd] += delta;
}

/* The blackout phase of a pass, as the engine asks it (lifecycle.h). */
static enum bo_phase phase_of(const struct forecast_job *j, enum job_phase p)
{
	return lc_bo_phase(p, j->suspend_ready);
}

static int64_t secs_for(double bytes, double rate)
{
	return bytes <= 0 ? 0 : (int64_t)(bytes / rate + 0.5);
}

static void note_hold(struct forecast_job *j, const char *name, int64_t until)
{
	if (!j->blackout) {
		j->blackout = name;
		j->blackout_until = until;
	}
}

/* --- classes ------------------------------------------------------------------------- */

struct intern {
	const char **v;
	size_t n, cap;
};

static int intern_site(struct intern *in, const char *site)
{
	if (!site)
		return -1;
	for (size_t i = 0; i < in->n; i++)      /* sites are few */
		if (!strcmp(in->v[i], site))
			return (int)i;
	in->v = x_grow(in->v, in->n, &in->cap, sizeof *in->v, 16);
	in->v[in->n] = site;
	return (int)in->n++;
}

static bool same_class(const struct cls *c, const struct cls *k)
{
	return c->src == k->src && c->dst == k->dst && c->phase == k->phase && c->site == k->site &&
	       c->mailbox_id == k->mailbox_id && c->subj.default_phases == k->subj.default_phases;
}

static uint64_t class_hash(const struct cls *k)
{
	uint64_t h = 1469598103934665603ULL;
	int64_t parts[] = { k->src, k->dst, k->phase, k->site, k->mailbox_id, k->subj.default_phases };
	for (size_t i = 0; i < countof(parts); i++)
		h = (h ^ (uint64_t)parts[i]) * 1099511628211ULL;
	return h;
}

/* An open-addressing table of class ids. */
struct ctable {
	int *v;
	size_t slots;
	struct intern sites;
};

/* The class of job j's pass of phase ph (made when new). */
static int class_of(struct sim *s, struct ctable *t, const struct forecast_job *j, enum job_phase ph)
{
	const struct forecast_params *p = s->p;
	struct cls key = { .src = ep_index(p, j->src_ep), .dst = ep_index(p, j->dst_ep), .phase = phase_of(j, ph),
	                   .site = -1, .entry_key = -1 };
	if (p->bo) {
		bo_subject_of(p->bo, j->src_ep, j->login ? j->login : "", &key.subj);
		key.site = intern_site(&t->sites, key.subj.site);
		if (key.subj.mailbox_id && bo_names_mailbox(p->bo, key.subj.mailbox_id))
			key.mailbox_id = key.subj.mailbox_id;
	} else {
		key.phase = BO_PHASE_WHOLE;     /* no window: the phase makes no difference */
	}
	size_t h = (size_t)class_hash(&key) & (t->slots - 1);
	while (t->v[h] >= 0 && !same_class(&s->cls[t->v[h]], &key))
		h = (h + 1) & (t->slots - 1);
	if (t->v[h] < 0) {
		s->cls = x_grow(s->cls, s->ncls, &s->capcls, sizeof *s->cls, 16);
		s->cls[s->ncls] = key;
		t->v[h] = (int)s->ncls++;
	}
	return t->v[h];
}

/* A suspend-when-ready job before its final phase with a cutover asked for:
 * its final pass follows. */
static bool has_final_after(const struct forecast_job *j)
{
	return j->suspend_ready && j->phase != PHASE_FINAL && j->cutover_at > 0;
}

/* Gives every job its class, and the class of the final pass that follows
 * its initial one. */
static void make_classes(struct sim *s)
{
	struct ctable t = { .slots = 64 };
	while (t.slots < s->n * 4)
		t.slots *= 2;
	t.v = x_malloc(t.slots * sizeof *t.v);
	for (size_t i = 0; i < t.slots; i++)
		t.v[i] = -1;
	for (size_t k = 0; k < s->n; k++) {
		const struct forecast_job *j = &s->jobs[k];
		s->js[k].cls = class_of(s, &t, j, j->phase);
		s->js[k].final_cls = has_final_after(j) ? class_of(s, &t, j, PHASE_FINAL) : -1;
	}
	free(t.sites.v);
	free(t.v);
}

/* Host slots: endpoints whose URLs name the same host share one, after
 * the endpoint slots in in_use and waiting. */
static void make_hosts(struct sim *s)
{
	const struct forecast_params *p = s->p;
	s->ep_host = x_malloc((p->neps ? p->neps : 1) * sizeof *s->ep_host);
	size_t nhosts = 0;
	for (size_t i = 0; i < p->neps; i++) {
		s->ep_host[i] = -1;
		if (p->host_limit <= 0 || !p->eps[i].host)
			continue;
		for (size_t k = 0; k < i && s->ep_host[i] < 0; k++)
			if (p->eps[k].host && !strcmp(p->eps[k].host, p->eps[i].host))
				s->ep_host[i] = s->ep_host[k];
		if (s->ep_host[i] < 0)
			s->ep_host[i] = (int)(p->neps + nhosts++);
	}
	s->nslots = p->neps + nhosts;
	s->in_use = x_calloc(s->nslots ? s->nslots : 1, sizeof *s->in_use);
	s->waiting = x_calloc(s->nslots ? s->nslots : 1, sizeof *s->waiting);
}

/* The class may start its first job: (again) in line by that job's place. */
static void class_ready(struct sim *s, int ci)
{
	struct cls *c = &s->cls[ci];
	c->state = C_READY;
	c->entry_key = c->q.n ? c->q.v[0].key : -1;
	if (c->q.n)
		heap_push(&s->cready, c->entry_key, (size_t)ci);
}

static void join_class(struct sim *s, size_t k, int64_t t)
{
	struct cls *c = &s->cls[s->js[k].cls];
	s->js[k].waiting_since = t;
	heap_push(&c->q, (int64_t)k, k);
	if (c->state == C_READY && (c->entry_key < 0 || (int64_t)k < c->entry_key)) {
		c->entry_key = (int64_t)k;
		heap_push(&s->cready, (int64_t)k, (size_t)s->js[k].cls);
	}
}

static void class_held(struct sim *s, int ci, int64_t t, int64_t until, const char *name)
{
	struct cls *c = &s->cls[ci];
	c->state = C_HELD;
	c->holds = x_grow(c->holds, c->nholds, &c->capholds, sizeof *c->holds, 8);
	c->holds[c->nholds++] = (struct hold){ t, until, name };
	heap_push(&s->deferred, until, s->n + (size_t)ci);
}

/* The first hold of its class that lasted past the moment the job joined
 * the line: the window that kept it waiting (for its NOTE).  Holds of a
 * class do not overlap, so their ends grow with their starts. */
static void note_class_holds(struct sim *s, size_t k)
{
	const struct cls *c = &s->cls[s->js[k].cls];
	int64_t since = s->js[k].waiting_since;
	size_t lo = 0, hi = c->nholds;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->holds[mid].until <= since)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < c->nholds)
		note_hold(&s->jobs[k], c->holds[lo].name, c->holds[lo].until);
}

/* --- segments ---------------------------------------------------------------------- */

/* Job k has a worker from t: runs until it is done or a window stops it.
 * A running job (not started by the simulation) is checked here against
 * the windows; for the others their class was. */
static bool start_segment(struct sim *s, size_t k, int64_t t)
{
	struct forecast_job *j = &s->jobs[k];
	struct jstate *x = &s->js[k];
	struct cls *c = &s->cls[x->cls];
	int64_t end = t + secs_for(x->left, j->rate);
	if (s->p->bo) {
		int64_t until;
		const char *name;
		if (j->running && !x->begun && bo_held(s->p->bo, &c->subj, c->phase, t, &until, &name)) {
			note_hold(j, name, until);
			heap_push(&s->deferred, until, k);
			return false;
		}
		int64_t hold = end > t ? bo_next_hold(s->p->bo, &c->subj, c->phase, t, &name) : INT64_MAX;
		x->stopped = hold < end;
		if (x->stopped) {
			/* When it resumes is asked when the clock gets there: the
			 * windows cache their occurrence along an advancing clock,
			 * and a look ahead now would make the next look-up redo it. */
			end = hold;
			x->stop_name = name;
			j->stops++;
		}
	}
	if (!x->begun && !j->running)
		j->est_start = t;
	x->begun = true;
	x->seg_start = t;
	s->busy++;
	hold_connections(s, c, +1);
	heap_push(&s->running, end, k);
	return true;
}

static void release_waiting(struct sim *s, int e)
{
	if (e < 0)
		return;
	struct waitlist *w = &s->waiting[e];
	for (size_t i = 0; i < w->n; i++)
		if (s->cls[w->v[i]].state == C_BLOCKED)
			class_ready(s, w->v[i]);
	w->n = 0;
}

/* A segment ended at t: the job is done, or stopped by a window and back
 * in its class's line (the window holds the class until it ends). */
static void end_segment(struct sim *s, size_t k, int64_t t)
{
	struct forecast_job *j = &s->jobs[k];
	struct jstate *x = &s->js[k];
	const struct cls *c = &s->cls[x->cls];
	s->busy--;
	hold_connections(s, c, -1);
	/* Classes that waited for a connection of these endpoints may go now
	 * (whether this job is done or only stopped by a window). */
	release_waiting(s, c->src);
	release_waiting(s, c->dst);
	release_waiting(s, host_of(s, c->src));
	release_waiting(s, host_of(s, c->dst));
	if (x->stopped) {
		int64_t resume = t;
		bo_held(s->p->bo, &c->subj, c->phase, t, &resume, NULL);
		note_hold(j, x->stop_name, resume);
		x->left -= (double)(t - x->seg_start) * j->rate;
		x->stopped = false;
		if (x->left > 0.5) {
			heap_push(&s->deferred, t, k);
			return;
		}
	}
	if (x->final_cls >= 0) {
		/* Ready to complete; the final pass waits for its cutover time in
		 * the line of its FINAL-phase class. */
		j->est_ready = t;
		x->cls = x->final_cls;
		x->final_cls = -1;
		x->left = (double)j->est_delta;
		heap_push(&s->deferred, j->cutover_at > t ? j->cutover_at : t, k);
		return;
	}
	if (j->suspend_ready && j->phase != PHASE_FINAL && !j->est_ready)
		j->est_ready = t;   /* (a final pass after it ended: ready was when it began) */
	j->est_end = t;
}

/* Gives free workers to the first jobs in queue order that may start. */
static void assign(struct sim *s, int64_t t)
{
	while (s->busy < s->p->workers && s->cready.n) {
		struct hent e = heap_pop(&s->cready);
		int ci = (int)e.idx;
		struct cls *c = &s->cls[ci];
		if (c->state != C_READY || e.key != c->entry_key || !c->q.n)
			continue;       /* an entry left from before the class moved */
		c->entry_key = -1;
		int full = class_full(s, c);
		if (full >= 0) {
			c->state = C_BLOCKED;
			struct waitlist *w = &s->waiting[full];
			w->v = x_grow(w->v, w->n, &w->cap, sizeof *w->v, 16);
			w->v[w->n++] = ci;
			continue;
		}
		int64_t until;
		const char *name;
		if (s->p->bo && bo_held(s->p->bo, &c->subj, c->phase, t, &until, &name)) {
			class_held(s, ci, t, until, name);
			continue;
		}
		size_t k = heap_pop(&c->q).idx;
		note_class_holds(s, k);
		start_segment(s, k, t);
		class_ready(s, ci);
	}
}

int64_t forecast_delta_estimate(int64_t mailbox_size)
{
	return mailbox_size < 0 ? FORECAST_DELTA_DEFAULT : mailbox_size * FORECAST_DELTA_PERMILLE / 1000;
}

static int64_t average_size(const struct forecast_job *jobs, size_t n)
{
	int64_t known = 0, nknown = 0;
	for (size_t i = 0; i < n; i++)
		if (jobs[i].size >= 0 && jobs[i].phase == PHASE_INITIAL) {
			known += jobs[i].size;
			nknown++;
		}
	return nknown ? known / nknown : 0;
}

static void sim_free(struct sim *s)
{
	for (size_t i = 0; i < s->nslots; i++)
		free(s->waiting[i].v);
	free(s->ep_host);
	for (size_t i = 0; i < s->ncls; i++) {
		free(s->cls[i].q.v);
		free(s->cls[i].holds);
	}
	free(s->cls);
	free(s->waiting);
	free(s->in_use);
	free(s->js);
	free(s->cready.v);
	free(s->deferred.v);
	free(s->running.v);
}

enum st forecast_run(const struct forecast_params *p, struct forecast_job *jobs, size_t n, struct err *e)
{
	if (p->workers < 1)
		return err_set(e, ST_USAGE, "forecast: workers must be at least 1 (%d given)", p->workers);
	if (!(p->default_rate > 0))
		return err_set(e, ST_USAGE, "forecast: the default rate must be above 0");
	struct sim s = { .p = p, .jobs = jobs, .n = n, .horizon = p->now + FORECAST_HORIZON };
	s.js = x_calloc(n ? n : 1, sizeof *s.js);
	make_hosts(&s);
	make_classes(&s);
	int64_t avg = average_size(jobs, n);
	for (size_t k = 0; k < n; k++) {
		struct forecast_job *j = &jobs[k];
		struct jstate *x = &s.js[k];
		j->size_estimated = j->size < 0;
		if (j->phase == PHASE_INITIAL)
			j->est_size = j->size < 0 ? avg : j->size;
		else
			j->est_size = j->size < 0 ? forecast_delta_estimate(j->mailbox_size) : j->size;
		j->est_delta = has_final_after(j) ? forecast_delta_estimate(j->est_size) : 0;
		j->est_ready = 0;
		j->est_start = j->est_end = FORECAST_NEVER;
		j->blackout = NULL;
		j->blackout_until = 0;
		j->stops = 0;
		j->rate = forecast_job_rate(p, j->dst_ep, &j->basis);
		int64_t left = j->est_size - (j->running ? j->done : 0);
		x->left = left > 0 ? (double)left : 0;
		if (j->running) {
			/* Running now: it holds its worker (even above `workers`). */
			j->est_start = j->started ? j->started : p->now;
			if (!start_segment(&s, k, p->now))
				x->begun = true;
		} else if (j->start_after > p->now) {
			heap_push(&s.deferred, j->start_after, k);
		} else {
			join_class(&s, k, p->now);
		}
	}
	int64_t t = p->now;
	for (;;) {
		assign(&s, t);
		int64_t next = INT64_MAX;
		if (s.running.n)
			next = s.running.v[0].key;
		if (s.deferred.n && s.deferred.v[0].key < next)
			next = s.deferred.v[0].key;
		if (next == INT64_MAX || next > s.horizon)
			break;          /* done, or what is left never starts */
		t = next;
		while (s.running.n && s.running.v[0].key <= t)
			end_segment(&s, heap_pop(&s.running).idx, t);
		while (s.deferred.n && s.deferred.v[0].key <= t) {
			size_t k = heap_pop(&s.deferred).idx;
			if (k >= n)
				class_ready(&s, (int)(k - n));  /* its hold ended */
			else
				join_class(&s, k, t);
		}
	}
	/* Jobs still in a line at the horizon: the windows never let them go;
	 * say which held their class. */
	for (size_t k = 0; k < n; k++) {
		if (jobs[k].est_end != FORECAST_NEVER)
			continue;
		if (!s.js[k].begun)
			jobs[k].est_start = FORECAST_NEVER;
		note_class_holds(&s, k);
	}
	sim_free(&s);
	return ST_OK;
}

/* --- what a forecast needs from the store ----------------------------------- */

struct env_load {
	struct forecast_env *env;
	size_t cap;
};

/* The host of "imap://user@Host:993/..." in lower case ("[::1]" keeps its
 * brackets), as the store's mf_url_host counts connections per server;
 * NULL without a URL.  The caller frees it. */
static char *url_host(const char *url)
{
	if (!url || !*url)
		return NULL;
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	const char *at = strchr(p, '@'), *slash = strchr(p, '/');
	if (at && (!slash || at < slash))
		p = at + 1;
	size_t n;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		n = close ? (size_t)(close - p) + 1 : strlen(p);
	} else {
		n = strcspn(p, ":/?");
	}
	char *h = x_malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		h[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
	h[n] = '\0';
	return h;
}

static void put_endpoint(void *ctx, const struct endpoint *ep)
{
	struct env_load *l = ctx;
	struct forecast_env *env = l->env;
	env->eps = x_grow(env->eps, env->neps, &l->cap, sizeof *env->eps, 8);
	env->eps[env->neps++] = (struct forecast_endpoint){
		.id = ep->id, .name = x_strdup(ep->name), .max_connections = ep->max_connections,
		.host = url_host(ep->url),
	};
}

static void put_rate(void *ctx, int64_t endpoint_id, int64_t items, int64_t bytes, int64_t minutes)
{
	(void)items;
	struct forecast_env *env = ctx;
	for (size_t i = 0; i < env->neps; i++)
		if (env->eps[i].id == endpoint_id && minutes > 0 && bytes > 0)
			env->eps[i].measured_rate = (double)bytes / (double)(minutes * 60);
}

enum st forecast_env_measure(struct store *s, int64_t now, struct forecast_env *env, struct err *e)
{
	for (size_t i = 0; i < env->neps; i++)
		env->eps[i].measured_rate = 0;
	return store_sample_endpoints(s, now - FORECAST_MEASURE_SECS, put_rate, env, e);
}

enum st forecast_env_load(struct store *s, int64_t now, struct forecast_env *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	struct env_load l = { out, 0 };
	enum st r = store_endpoint_each(s, put_endpoint, &l, e);
	if (!r)
		r = forecast_env_measure(s, now, out, e);
	if (!r)
		r = bo_load(s, &out->bo, e);
	if (r) {
		err_prefix(e, "forecast");
		forecast_env_free(out);
	}
	return r;
}

void forecast_env_free(struct forecast_env *env)
{
	for (size_t i = 0; i < env->neps; i++) {
		free((char *)env->eps[i].name);
		free((char *)env->eps[i].host);
	}
	free(env->eps);
	bo_free(env->bo);
	memset(env, 0, sizeof *env);
}

const struct forecast_endpoint *forecast_env_endpoint(const struct forecast_env *env, const char *name)
{
	for (size_t i = 0; i < env->neps; i++)
		if (name && !strcmp(env->eps[i].name, name))
			return &env->eps[i];
	return NULL;
}

static void rate_text(double bytes_per_s, char *buf, size_t n)
{
	static const char *const unit[] = { "B", "KB", "MB", "GB", "TB" };
	double v = bytes_per_s;
	int i = 0;
	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	snprintf(buf, n, i == 0 ? "%.0f %s/s" : "%.1f %s/s", v, unit[i]);
}

char *forecast_basis_text(const struct forecast_params *p, const struct forecast_job *jobs, size_t n)
{
	struct sbuf b;
	sb_init(&b);
	char r1[32], r2[32];
	sb_printf(&b, "%d worker%s", p->workers, p->workers == 1 ? "" : "s");
	bool any_default = n == 0, any_measured = false;
	for (size_t i = 0; i < p->neps; i++) {
		const struct forecast_endpoint *ep = &p->eps[i];
		if (ep->measured_rate <= 0)
			continue;
		bool used = false;
		for (size_t k = 0; k < n && !used; k++)
			used = jobs[k].dst_ep == ep->id;
		if (!used)
			continue;
		enum forecast_basis basis;
		rate_text(ep->measured_rate, r1, sizeof r1);
		rate_text(forecast_job_rate(p, ep->id, &basis), r2, sizeof r2);
		sb_printf(&b, ", %s measured on %s (last hour): %s a job", r1, ep->name, r2);
		any_measured = true;
	}
	for (size_t k = 0; k < n && !any_default; k++)
		any_default = jobs[k].basis == FORECAST_DEFAULT;
	if (any_default) {
		rate_text(p->default_rate, r1, sizeof r1);
		sb_printf(&b, any_measured ? "; other targets %s a job (default, none measured)"
		                           : ", %s each (default, none measured)", r1);
	}
	/* Delta passes (a ready job's next sync, final passes): sized from
	 * the job's earlier syncs, or estimated. */
	size_t as_earlier = 0, estimated = 0;
	for (size_t k = 0; k < n; k++) {
		if (jobs[k].phase != PHASE_INITIAL)
			jobs[k].size_estimated ? estimated++ : as_earlier++;
		if (jobs[k].est_delta > 0)
			estimated++;
	}
	if (as_earlier || estimated) {
		sb_printf(&b, "; delta passes: ");
		if (as_earlier)
			sb_printf(&b, "%zu as the job's earlier syncs%s", as_earlier, estimated ? ", " : "");
		if (estimated)
			sb_printf(&b, "%zu at %d%% of the mailbox (none measured)", estimated, FORECAST_DELTA_PERMILLE / 10);
	}
	return b.data;
}

/* --- the queue as the store has it ------------------------------------------- */

double forecast_rate_of_mb_h(int mb_h)
{
	return (double)(mb_h > 0 ? mb_h : 18000) * 1e6 / 3600.0;
}

struct queue_load {
	struct forecast_queue *q;
};

static void put_row(void *ctx, const struct job_row *r)
{
	struct forecast_queue *q = ctx;
	if (r->state != JOB_QUEUED && r->state != JOB_RUNNING && r->state != JOB_READY && r->state != JOB_COMPLETING)
		return;     /* paused, finished: nothing is due */
	size_t cap = q->cap;
	q->jobs = x_grow(q->jobs, q->n, &q->cap, sizeof *q->jobs, 256);
	if (q->cap != cap)
		q->labels = realloc(q->labels, q->cap * sizeof *q->labels);
	if (!q->labels)
		x_die("out of memory");
	char *all = x_asprintf("%s%c%s%c%s%c%s", r->src_endpoint, 0, r->src_user, 0, r->dst_endpoint, 0,
	                       r->dst_user);
	struct forecast_label *l = &q->labels[q->n];
	l->src_ep = all;
	l->src_user = l->src_ep + strlen(l->src_ep) + 1;
	l->dst_ep = l->src_user + strlen(l->src_user) + 1;
	l->dst_user = l->dst_ep + strlen(l->dst_ep) + 1;
	l->state = r->state;
	l->priority = r->priority;
	const struct forecast_endpoint *se = forecast_env_endpoint(&q->env, r->src_endpoint);
	const struct forecast_endpoint *de = forecast_env_endpoint(&q->env, r->dst_endpoint);
	struct forecast_job *j = &q->jobs[q->n++];
	*j = (struct forecast_job){
		.id = r->id, .src_ep = se ? se->id : 0, .dst_ep = de ? de->id : 0, .login = l->src_user,
		.running = r->state == JOB_RUNNING, .suspend_ready = r->suspend_ready, .size = r->src_size_bytes,
		.done = r->bytes_done, .start_after = r->start_after, .started = r->started,
		.phase = r->state == JOB_RUNNING ? r->phase : lc_phase_for_claim(r->state),
		.cutover_at = r->cutover_at, .mailbox_size = r->src_size_bytes,
	};
	if (j->phase != PHASE_INITIAL) {
		/* A delta pass: its size from the earlier incremental passes
		 * (forecast_queue_run), else estimated from the mailbox's. */
		j->size = -1;
		if (r->state == JOB_READY)
			/* No next sync set: none is due (the claim waits for it). */
			j->start_after = r->next_sync > 0 ? r->next_sync : FORECAST_NEVER;
		else if (r->state == JOB_COMPLETING)
			j->start_after = r->cutover_at;
		if (j->running)
			j->done = 0;    /* bytes_done counts the job's life, not this pass */
	}
}

/* Earlier incremental syncs of one job: what they copied on average. */
struct delta_avg {
	int64_t bytes, n;
	bool first_seen;
};

static void put_pass(void *ctx, int64_t id, const char *kind, int64_t started, int64_t finished,
                     const char *result, int64_t copied, int64_t bytes, int64_t skipped, int64_t failed,
                     int64_t reflagged)
{
	(void)id, (void)started, (void)copied, (void)skipped, (void)failed, (void)reflagged;
	struct delta_avg *a = ctx;
	bool first = !a->first_seen;
	a->first_seen = true;
	/* The first pass is the initial one; the delta passes after it that
	 * ended are the incremental syncs (and a final pass, a delta too). */
	if (first || !finished || !result || strcmp(kind, pass_kind_name(PASS_DELTA)) || bytes < 0)
		return;
	a->bytes += bytes;
	a->n++;
}

/* One query per ready or completing job: they are the few. */
enum st forecast_measure_deltas(struct store *s, struct forecast_job *jobs, size_t n, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		struct forecast_job *j = &jobs[i];
		if (j->phase == PHASE_INITIAL)
			continue;
		struct delta_avg a = { 0 };
		enum st r = store_pass_each(s, j->id, put_pass, &a, e);
		if (r)
			return r;
		if (a.n)
			j->size = a.bytes / a.n;
	}
	return ST_OK;
}

enum st forecast_queue_run(struct store *s, int workers, int host_limit, double default_rate, int64_t now,
                           struct forecast_queue *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	enum st r = forecast_env_load(s, now, &out->env, e);
	if (!r)
		r = store_job_rows(s, 0, put_row, out, NULL, e);
	if (!r)
		r = forecast_measure_deltas(s, out->jobs, out->n, e);
	if (r) {
		forecast_queue_free(out);
		return r;
	}
	out->p = (struct forecast_params){ .workers = workers, .host_limit = host_limit, .default_rate = default_rate,
	                                   .now = now,
	                                   .bo = bo_any(out->env.bo) ? out->env.bo : NULL, .eps = out->env.eps,
	                                   .neps = out->env.neps };
	r = forecast_run(&out->p, out->jobs, out->n, e);
	if (r)
		forecast_queue_free(out);
	return r;
}

void forecast_queue_free(struct forecast_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->labels[i].src_ep);
	free(q->labels);
	free(q->jobs);
	forecast_env_free(&q->env);
	memset(q, 0, sizeof *q);
}

enum st forecast_queue_record(struct store *s, const struct forecast_queue *q, struct err *e)
{
	enum st r = store_begin(s, e);
	for (size_t i = 0; !r && i < q->n; i++) {
		const struct forecast_job *j = &q->jobs[i];
		/* Only a job's first pass is compared with reality (--actual sets
		 * it beside the job's start and end); later passes are forecast,
		 * not recorded. */
		if (!j->running && j->phase == PHASE_INITIAL)
			r = store_forecast_put(s, j->id, q->p.now, j->est_start, j->est_end, j->rate,
			                       forecast_basis_name(j->basis), e);
	}
	if (!r)
		r = store_commit(s, e);
	else
		store_rollback(s);
	return r;
}

enum st forecast_record_now(struct store *s, int workers, int host_limit, int default_rate_mb_h, struct err *e)
{
	struct forecast_queue q;
	enum st r = forecast_queue_run(s, workers, host_limit, forecast_rate_of_mb_h(default_rate_mb_h), clock_now(),
	                               &q, e);
	if (r)
		return r;
	r = forecast_queue_record(s, &q, e);
	forecast_queue_free(&q);
	return r;
}

void forecast_note(const struct forecast_note_facts *f, void (*fmt_time)(int64_t t, char *b, size_t n),
                   char *b, size_t n)
{
	char t[32];
	size_t k = 0;
	b[0] = '\0';
#define ADD(...) do { if (k < n) k += (size_t)snprintf(b + k, n - k, __VA_ARGS__); } while (0)
	if (f->running)
		ADD("running; ");
	if (f->phase == PHASE_INCREMENTAL)
		ADD("ready: next incremental sync; ");
	else if (f->phase == PHASE_FINAL)
		ADD("completing: final pass at cutover; ");
	if (f->size_estimated && f->phase == PHASE_INITIAL)
		ADD("size unknown, estimated; ");
	else if (f->size_estimated)
		ADD("delta estimated (%d%% of the mailbox, no earlier sync); ", FORECAST_DELTA_PERMILLE / 10);
	else if (f->phase != PHASE_INITIAL)
		ADD("delta as earlier syncs; ");
	if (f->blackout) {
		fmt_time(f->blackout_until, t, sizeof t);
		ADD("%s %s until %s; ", f->stops ? "stopped by blackout" : "blackout", f->blackout, t);
	} else if (f->start_after > 0 && f->est_start == f->start_after) {
		ADD("starts at its set time; ");
	}
	if (f->est_ready > 0 && f->cutover_at > 0 && f->phase != PHASE_FINAL) {
		fmt_time(f->est_ready, t, sizeof t);
		ADD("ready to complete %s, then final pass (cutover); ", t);
	} else if (f->suspend_ready && f->phase != PHASE_FINAL && f->est_end != FORECAST_NEVER) {
		ADD("then ready to complete; ");
	}
#undef ADD
	if (k >= 2 && k < n)        /* the last "; " */
		b[k - 2] = '\0';
}
