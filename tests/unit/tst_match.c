/* tst_match.c - identity matching: address lists normalised (prefixes,
 * case, other types, duplicates), and match_forests on a real store: each
 * criterion, a proxy address leading elsewhere than the primary (conflict),
 * two sources claiming one target, unmatched, vanished mailboxes, stored
 * results and unchanged rows keeping their revision. */
#include "match.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

static bool norm_is(const char *in, const char *seps, const char *want)
{
	char *got = match_addresses_norm(in, seps);
	bool ok = want ? got && !strcmp(got, want) : !got;
	if (!ok)
		printf("# '%s' -> '%s', not '%s'\n", in, got ? got : "(null)", want ? want : "(null)");
	free(got);
	return ok;
}

static void test_norm(void)
{
	check(norm_is("SMTP:Alice@Corp.Example;smtp:a@x.example", ";", "alice@corp.example\na@x.example"),
	      "prefixes removed, lower case, order kept");
	check(norm_is(" X500:/o=Org/cn=a ; sip:a@x.example;a@x.example;A@X.EXAMPLE;", ";", "a@x.example"),
	      "other types, empty values and duplicates dropped");
	check(norm_is("X500:/o=Org", ";", NULL) && norm_is("", ";", NULL) && norm_is(NULL, ";", NULL),
	      "nothing left: NULL");
	check(norm_is("smtp:\nzoë@exämple.org", "\n", "zoë@exämple.org"), "non-ASCII bytes kept");
	char *l = match_lower("  Bob@Corp.Example ");
	check(l && !strcmp(l, "bob@corp.example") && !match_lower(" "), "match_lower trims and lowers");
	free(l);
	enum match_by b;
	check(match_by_parse("UPN", &b) && b == MATCH_UPN && !match_by_parse("mail", &b), "criteria by name");
}

struct got { int n; char line[16][160]; };

static void note(void *ctx, const struct match_result *r)
{
	struct got *g = ctx;
	if (g->n < 16)
		snprintf(g->line[g->n++], sizeof g->line[0], "%s %s %zu %s %zu", r->src->login,
		         match_state_name(r->state), r->ntargets, r->ntargets ? r->targets[0].box->login : "-",
		         r->nrivals);
}

static bool has(const struct got *g, const char *line)
{
	for (int i = 0; i < g->n; i++)
		if (!strcmp(g->line[i], line))
			return true;
	printf("# no '%s' among %d results\n", line, g->n);
	return false;
}

static int64_t box(struct store *s, int64_t ep, const char *login, const char *addr, const char *upn,
                   const char *proxies)
{
	struct mailbox_row m = { .endpoint_id = ep, .login = login, .address = addr, .upn = upn,
	                         .proxy_addresses = proxies, .size_bytes = -1, .items = -1, .folders = -1 };
	int64_t id = 0;
	struct err e;
	if (store_mailbox_upsert(s, &m, &id, &e))
		printf("# %s\n", e.msg);
	return id;
}

static int64_t add_forest(struct store *s, const char *name, const char *role, int64_t *ep)
{
	struct err e;
	struct forest f = { .name = (char *)name, .role = (char *)role };
	store_forest_add(s, &f, &e);
	char *epname = x_asprintf("%s-imap", name);
	struct endpoint en = { .name = epname, .url = (char *)"imap://127.0.0.1:1",
	                       .secret_ref = (char *)"env:PW", .forest_id = f.id };
	store_endpoint_add(s, &en, &e);
	struct endpoint got;
	store_endpoint_get(s, epname, &got, &e);
	*ep = got.id;
	endpoint_free(&got);
	free(epname);
	return f.id;
}

struct state { const char *login; char state[16]; int64_t match_id, rev; };

static void find_state(void *ctx, const struct mailbox_row *r)
{
	struct state *st = ctx;
	if (!strcmp(r->login, st->login)) {
		snprintf(st->state, sizeof st->state, "%s", r->match_state ? r->match_state : "-");
		st->match_id = r->match_id;
		st->rev = r->rev;
	}
}

static struct state state_of(struct store *s, int64_t forest, const char *login)
{
	struct state st = { .login = login };
	struct err e;
	store_mailbox_rows(s, forest, 0, find_state, &st, NULL, &e);
	return st;
}

static void test_match(struct store *s)
{
	struct err e;
	int64_t sep, dep;
	int64_t sf = add_forest(s, "old", "source", &sep), df = add_forest(s, "new", "target", &dep);
	box(s, sep, "alice", "Alice@Corp.Example", NULL, NULL);
	box(s, sep, "bob", "bob@old.example", NULL, "bob@old.example\nbob@corp.example");
	box(s, sep, "carol", "carol@old.example", "carol@corp.example", NULL);
	box(s, sep, "dave", "dave@corp.example", NULL, "dave@corp.example\ndavid@corp.example");
	box(s, sep, "erin", "erin@corp.example", NULL, NULL);
	box(s, sep, "frank", "frank@corp.example", NULL, "erin@corp.example");
	box(s, sep, "gina", NULL, NULL, NULL);
	int64_t t_alice = box(s, dep, "alice.n", "alice@corp.example", NULL, NULL);
	box(s, dep, "bob.n", "bob@corp.example", NULL, NULL);
	box(s, dep, "carol.n", "c@new.example", "carol@corp.example", NULL);
	box(s, dep, "dave.n", "dave@corp.example", NULL, NULL);
	box(s, dep, "david.n", "x@new.example", NULL, "david@corp.example");
	box(s, dep, "erin.n", "erin@corp.example", NULL, NULL);
	box(s, dep, "gina", "g@new.example", NULL, NULL);

	struct got g = { 0 };
	struct match_counts c;
	check(match_forests(s, sf, df, NULL, 0, note, &g, &c, &e) == 0, "match runs");
	check(c.sources == 7 && c.targets == 7 && c.matched == 3 && c.conflicts == 3 && c.unmatched == 1,
	      "3 matched, 3 conflicts, 1 unmatched");
	check(has(&g, "alice matched 1 alice.n 0") && has(&g, "bob matched 1 bob.n 0") &&
	      has(&g, "carol matched 1 carol.n 0"), "by address (any case), proxy, UPN");
	check(has(&g, "dave conflict 2 dave.n 0"), "primary and proxy leading to two targets: conflict");
	check(has(&g, "erin conflict 1 erin.n 1") && has(&g, "frank conflict 1 erin.n 1"),
	      "two sources claiming one target: both conflicts, each with the rival");
	check(has(&g, "gina unmatched 0 - 0"), "no keys: unmatched (the login is not used by default)");
	struct state a = state_of(s, sf, "alice");
	check(!strcmp(a.state, "matched") && a.match_id == t_alice, "result stored with the target row");

	check(match_forests(s, sf, df, NULL, 0, NULL, NULL, &c, &e) == 0 &&
	      state_of(s, sf, "alice").rev == a.rev, "an unchanged result keeps the row's revision");

	enum match_by by[] = { MATCH_LOGIN };
	g.n = 0;
	check(match_forests(s, sf, df, by, 1, note, &g, &c, &e) == 0 && c.matched == 1 &&
	      has(&g, "gina matched 1 gina 0") && has(&g, "alice unmatched 0 - 0"), "--by login alone");

	/* A configured key (e.g. employeeNumber through both forests' maps). */
	struct mailbox_row k1 = { .endpoint_id = sep, .login = "alice", .dir_key = "E-1001", .size_bytes = -1,
	                          .items = -1, .folders = -1 };
	struct mailbox_row k2 = { .endpoint_id = dep, .login = "david.n", .dir_key = "e-1001", .size_bytes = -1,
	                          .items = -1, .folders = -1 };
	int64_t kid;
	enum discovered out;
	store_mailbox_discovered(s, &k1, &kid, &out, NULL, &e);
	store_mailbox_discovered(s, &k2, &kid, &out, NULL, &e);
	enum match_by bykey[] = { MATCH_KEY };
	g.n = 0;
	check(match_forests(s, sf, df, bykey, 1, note, &g, &c, &e) == 0 && c.matched == 1 &&
	      has(&g, "alice matched 1 david.n 0") && has(&g, "bob unmatched 0 - 0"),
	      "--by key: the directory key, any case; mailboxes without one unmatched");
	check(match_by_parse("KEY", &bykey[0]) && bykey[0] == MATCH_KEY && !strcmp(match_by_name(MATCH_KEY), "key"),
	      "key criterion named");

	int64_t gid = 0;
	store_mailbox_id(s, sep, "gina", &gid, &e);
	store_mailbox_set_vanished(s, gid, &e);
	int64_t tid = 0;
	store_mailbox_id(s, dep, "erin.n", &tid, &e);
	store_mailbox_set_vanished(s, tid, &e);
	g.n = 0;
	check(match_forests(s, sf, df, NULL, 0, note, &g, &c, &e) == 0 && c.sources == 6 && c.targets == 6 &&
	      has(&g, "erin unmatched 0 - 0") && !strcmp(state_of(s, sf, "gina").state, "-"),
	      "vanished mailboxes take no part; a vanished source's result is cleared");
	check(match_forests(s, sf, sf, NULL, 0, NULL, NULL, &c, &e) == ST_CONFIG, "a forest with itself refused");
}

int main(void)
{
	test_norm();
	char dir[] = "/tmp/tst_match.XXXXXX";
	if (!mkdtemp(dir))
		return 99;
	char *path = x_asprintf("%s/mf.db", dir);
	struct store *s = NULL;
	struct err e;
	check(store_open(path, &s, &e) == 0, "store created");
	if (s)
		test_match(s);
	store_close(&s);
	char *cmd = x_asprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	free(cmd);
	free(path);
	return tap_done();
}
