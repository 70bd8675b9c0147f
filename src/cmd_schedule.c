/* cmd_schedule.c - `mailferry schedule [--workers N] [--csv]` and
 * `mailferry schedule --actual [--csv]`; see cmd_schedule.h.
 *
 * Forecast versus reality: every forecast printed here, and the one the
 * engine makes when it starts working the queue and every 10 minutes
 * after, is recorded for the jobs still queued (store_forecast_put).  A
 * job's record stops changing once it leaves the queue, so it holds the
 * last forecast made before the job started; --actual sets that beside
 * the job's real start and end. */
#include "config.h"

#include "cmd_schedule.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast.h"
#include "store.h"
#include "cmd_common.h"
#include "textout.h"

/* Why a job starts or ends when it does, in a few words. */
static void job_note(const struct forecast_job *j, char *b, size_t n)
{
	const struct forecast_note_facts f = {
		.running = j->running, .suspend_ready = j->suspend_ready, .size_estimated = j->size_estimated,
		.phase = j->phase, .blackout = j->blackout, .stops = j->stops, .blackout_until = j->blackout_until,
		.start_after = j->start_after, .est_start = j->est_start, .est_end = j->est_end,
		.est_ready = j->est_ready, .cutover_at = j->cutover_at,
	};
	forecast_note(&f, txt_time, b, n);
}

static void print_table(const struct forecast_queue *q)
{
	char *basis = forecast_basis_text(&q->p, q->jobs, q->n);
	char now[32];
	txt_time(q->p.now, now, sizeof now);
	printf("Forecast at %s for %zu job%s; basis: %s\n", now, q->n, q->n == 1 ? "" : "s", basis);
	free(basis);
	if (!q->n)
		return;
	printf("%5s %6s  %-28s %10s  %-16s  %-16s  %8s  %-19s  %s\n", "#", "JOB", "MAILBOX (SOURCE>TARGET)", "SIZE",
	       "EST. START", "EST. END", "DURATION", "RATE (BASIS)", "NOTE");
	for (size_t i = 0; i < q->n; i++) {
		const struct forecast_job *j = &q->jobs[i];
		const struct forecast_label *l = &q->labels[i];
		char mb[256], size[32], start[32], end[32], dur[32], note[256], rate[48];
		bool same = !strcmp(l->src_user, l->dst_user);
		snprintf(mb, sizeof mb, "%s%s%s (%s>%s)", l->src_user, same ? "" : ">", same ? "" : l->dst_user,
		         l->src_ep, l->dst_ep);
		txt_bytes(j->est_size, size, sizeof size);
		if (j->size_estimated)
			strcat(size, "?");
		txt_time(j->est_start, start, sizeof start);
		txt_time(j->est_end, end, sizeof end);
		if (j->est_end == FORECAST_NEVER)
			snprintf(dur, sizeof dur, "-");
		else
			txt_duration(j->est_end - j->est_start, dur, sizeof dur);
		job_note(j, note, sizeof note);
		txt_bytes((int64_t)j->rate, rate, sizeof rate);
		snprintf(rate + strlen(rate), sizeof rate - strlen(rate), "/s %s", forecast_basis_name(j->basis));
		printf("%5zu %6lld  %-28s %10s  %-16s  %-16s  %8s  %-19s  %s\n", i + 1, (long long)j->id, mb, size, start,
		       end, dur, rate, note);
	}
}

static void print_csv(const struct forecast_queue *q)
{
	puts("position,job,state,source,login,target,target_login,size_bytes,size_estimated,est_start,est_end,"
	     "duration_s,rate_bytes_per_s,basis,blackout,blackout_until,stops,phase,est_ready");
	for (size_t i = 0; i < q->n; i++) {
		const struct forecast_job *j = &q->jobs[i];
		const struct forecast_label *l = &q->labels[i];
		char start[32], end[32], until[32];
		txt_time_iso(j->est_start, start, sizeof start);
		txt_time_iso(j->est_end, end, sizeof end);
		txt_time_iso(j->blackout ? j->blackout_until : 0, until, sizeof until);
		printf("%zu,%lld,%s,", i + 1, (long long)j->id, job_state_name(l->state));
		const char *names[] = { l->src_ep, l->src_user, l->dst_ep, l->dst_user };
		for (int k = 0; k < 4; k++) {
			txt_csv_field(stdout, names[k]);
			putchar(',');
		}
		printf("%lld,%d,%s,%s,", (long long)j->est_size, j->size_estimated, start, end);
		if (j->est_end == FORECAST_NEVER)
			putchar(',');
		else
			printf("%lld,", (long long)(j->est_end - j->est_start));
		printf("%.0f,%s,", j->rate, forecast_basis_name(j->basis));
		txt_csv_field(stdout, j->blackout);
		char ready[32];
		txt_time_iso(j->est_ready > 0 ? j->est_ready : 0, ready, sizeof ready);
		printf(",%s,%d,%s,%s\n", until, j->stops, job_phase_name(j->phase), ready);
	}
}

/* --- forecast versus reality ---------------------------------------------- */

struct actual {
	bool csv;
	size_t ran, ended;
	int64_t sum_abs_end;        /* seconds, over the jobs that ended */
};

static void put_actual(void *ctx, const struct forecast_row *r)
{
	struct actual *a = ctx;
	if (!r->started)
		return;             /* still waiting: nothing to compare yet */
	a->ran++;
	bool ended = r->finished > 0 && r->state != JOB_RUNNING && r->state != JOB_QUEUED;
	int64_t ds = r->est_start == INT64_MAX ? 0 : r->started - r->est_start;
	int64_t de = ended && r->est_end != INT64_MAX ? r->finished - r->est_end : 0;
	if (ended && r->est_end != INT64_MAX) {
		a->ended++;
		a->sum_abs_end += de < 0 ? -de : de;
	}
	if (a->csv) {
		char made[32], es[32], st[32], ee[32], fi[32];
		txt_time_iso(r->made, made, sizeof made);
		txt_time_iso(r->est_start, es, sizeof es);
		txt_time_iso(r->started, st, sizeof st);
		txt_time_iso(r->est_end, ee, sizeof ee);
		txt_time_iso(ended ? r->finished : 0, fi, sizeof fi);
		printf("%lld,", (long long)r->job_id);
		txt_csv_field(stdout, r->src_user);
		printf(",%s,%s,%s,%s,%lld,%s,%s,", job_state_name(r->state), made, es, st, (long long)ds, ee, fi);
		if (ended)
			printf("%lld", (long long)de);
		printf(",%.0f,%s\n", r->rate, r->basis ? r->basis : "");
		return;
	}
	char es[32], st[32], ee[32], fi[32], dsb[32], deb[32];
	txt_time(r->est_start, es, sizeof es);
	txt_time(r->started, st, sizeof st);
	txt_time(r->est_end, ee, sizeof ee);
	txt_time(ended ? r->finished : 0, fi, sizeof fi);
	txt_duration(ds, dsb, sizeof dsb);
	if (ended)
		txt_duration(de, deb, sizeof deb);
	else
		snprintf(deb, sizeof deb, "-");
	printf("%6lld  %-16s %-9s  %-16s  %-16s  %8s  %-16s  %-16s  %8s\n", (long long)r->job_id, r->src_user,
	       job_state_name(r->state), es, st, dsb, ee, fi, deb);
}

static int print_actual(struct store *st, bool csv)
{
	struct actual a = { .csv = csv };
	struct err e;
	if (csv)
		puts("job,login,state,forecast_made,est_start,started,start_diff_s,est_end,finished,end_diff_s,"
		     "rate_bytes_per_s,basis");
	else
		printf("%6s  %-16s %-9s  %-16s  %-16s  %8s  %-16s  %-16s  %8s\n", "JOB", "MAILBOX", "STATE",
		       "FORECAST START", "STARTED", "LATE BY", "FORECAST END", "ENDED", "LATE BY");
	if (store_forecast_each(st, 0, put_actual, &a, &e))
		return cmd_fail(&e);
	if (!csv) {
		char avg[32];
		txt_duration(a.ended ? a.sum_abs_end / (int64_t)a.ended : 0, avg, sizeof avg);
		printf("%zu job%s with a recorded forecast ran, %zu ended; ends were %s off on average%s\n", a.ran,
		       a.ran == 1 ? "" : "s", a.ended, avg,
		       a.ran ? "" : " (forecasts are recorded by 'mailferry schedule' and when the engine starts)");
	}
	return 0;
}

int cmd_schedule(const struct cfg *cfg, const char *store_path, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "workers", required_argument, NULL, 'w' },
		{ "csv", no_argument, NULL, 'c' },
		{ "actual", no_argument, NULL, 'a' },
		{ 0 }
	};
	int workers = cfg->workers > 0 ? cfg->workers : 1, c;
	bool csv = false, actual = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		long v;
		switch (c) {
		case 'w':
			if (!cmd_parse_long(optarg, 1, 256, &v))
				return cmd_usage("--workers needs a whole number from 1 to 256");
			workers = (int)v;
			break;
		case 'c': csv = true; break;
		case 'a': actual = true; break;
		default: return st_exit_code(ST_USAGE);
		}
	}
	if (optind < argc)
		return cmd_usage("schedule takes only --workers N, --csv and --actual");
	struct store *st;
	struct err e;
	int rc = cmd_store_open(store_path, &st, &e);
	if (rc)
		return rc;
	if (actual) {
		rc = print_actual(st, csv);
	} else {
		struct forecast_queue q;
		if (forecast_queue_run(st, workers, cfg->max_connections_per_host,
		                       forecast_rate_of_mb_h(cfg->forecast_default_rate), clock_now(), &q, &e)) {
			rc = cmd_fail(&e);
		} else {
			if (csv)
				print_csv(&q);
			else
				print_table(&q);
			/* Kept to compare with what happens (--actual). */
			if (forecast_queue_record(st, &q, &e))
				fprintf(stderr, "mailferry: the forecast was not recorded: %s\n", e.msg);
			forecast_queue_free(&q);
		}
	}
	store_close(&st);
	return rc;
}
