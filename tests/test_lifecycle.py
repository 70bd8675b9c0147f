#!/usr/bin/python3
"""The job lifecycle against real Dovecot servers, with a test clock
(MAILFERRY_TEST_CLOCK) that the test moves while mailferry runs:

  * suspend when ready: the initial pass ends "ready", new mail on the source
    is picked up by the incremental sync once incremental_interval_h has
    passed, `cutover` runs the final delta and the job completes; every
    message exactly once on the target; `schedule` forecasts the ready job's
    next sync at its next_sync as big as its earlier sync, and the
    completing job's final pass now;
  * a blackout that begins while a job copies (the clock moves into the
    window under a slow proxy): the job stops at a checkpoint, waits queued,
    and `run --follow` resumes it when the clock leaves the window; exactly
    once; Ctrl-C ends the follow run cleanly;
  * blackout modes: a "final" window lets the initial pass run but holds the
    cutover until it ends;
  * an endpoint that refuses the admin pauses every job of the endpoint with
    one error event; `resume --endpoint` after the fix completes them;
  * weekly windows in America/New_York and Europe/Paris hold jobs at their
    wall-clock times across each zone's summer-time change;
  * retry of a partial job copies only its failed items, retry --full the rest.
    (Dovecot refuses no single APPEND on demand, so the failure is seeded: two
    copies are removed from the target and its map, one of them recorded as a
    failed item, the job marked partial, as a refused APPEND leaves it.)

Run: MAILFERRY=src/mailferry python3 tests/test_lifecycle.py   (exit 0 pass, 77 skip, 1 fail)
"""

import calendar
import csv
import io
import os
import re
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, corpus, fixtures, imapcheck, jobs, proxy, report     # noqa: E402

Via = proxy.Via


class Clock:
    """The test clock file every mailferry process of the test reads."""

    def __init__(self, path, t):
        self.path = path
        self.set(t)

    def set(self, t):
        self.t = int(t)
        tmp = self.path + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%d\n' % self.t)
        os.replace(tmp, self.path)
        time.sleep(0.1)          # processes re-read the file every 50 ms

    def move(self, seconds):
        self.set(self.t + seconds)


def utc(t):
    return time.strftime('%Y-%m-%d %H:%M', time.gmtime(t))


def job(mf, jid):
    """(state, items_done, paused_by) of a job."""
    rows = jobs.query(mf, 'SELECT state, items_done, paused_by FROM jobs WHERE id=?', jid)
    return rows[0] if rows else (None, 0, None)


def main(c):
    fixtures.require()
    mf = cli.Mailferry(settings={'incremental_interval_h': 24})
    clock = Clock(os.path.join(mf.dir, 'clock'), time.time())
    os.environ['MAILFERRY_TEST_CLOCK'] = clock.path
    try:
        with fixtures.pair(users=9, checks=c) as (src, dst):
            mf.endpoint_add('src', src)
            mf.endpoint_add('dst', dst)
            suspend_and_cutover(c, mf, clock, src, dst)
            blackout_mid_copy(c, mf, clock, src, dst)
            final_mode(c, mf, clock, src, dst)
            endpoint_pause(c, mf, clock, src, dst)
            retry_errors(c, mf, src, dst)
            two_zones_across_dst(c, mf, clock)
            initial_mode(c, mf, clock, src, dst)
            postpone(c, mf, clock, src, dst)
        c.check(mf.store_integrity() == 'ok', 'store integrity_check ok')
    finally:
        os.environ.pop('MAILFERRY_TEST_CLOCK', None)
        mf.cleanup()


def iso(t):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))


def parse_iso(s):
    return calendar.timegm(time.strptime(s, '%Y-%m-%dT%H:%M:%SZ')) if s else 0


def schedule_row(mf, jid):
    """The row of job jid in `mailferry schedule --csv`, by column name."""
    r = mf.run('schedule', '--csv')
    rows = list(csv.DictReader(io.StringIO(r.out))) if r.rc == 0 else []
    return next((x for x in rows if x['job'] == str(jid)), None)


def delta_bytes(mf, jid):
    """Bytes of the job's incremental syncs so far (delta passes after the first), on average."""
    rows = jobs.query(mf, "SELECT bytes FROM passes WHERE job_id=? AND kind='delta' AND finished IS NOT NULL "
                 "AND id > (SELECT min(id) FROM passes WHERE job_id=?)", jid, jid)
    return sum(b for (b,) in rows) // len(rows) if rows else -1


def schedule_ready(c, mf):
    """The forecast of a ready job: its next sync at next_sync, as big as
    its earlier syncs, then ready again."""
    (next_sync,) = jobs.query(mf, 'SELECT next_sync FROM jobs WHERE id=1')[0]
    row = schedule_row(mf, 1)
    c.check(row and row['state'] == 'ready' and row['phase'] == 'incremental' and
            row['est_start'] == iso(next_sync) and row['size_estimated'] == '0' and
            int(row['size_bytes']) == delta_bytes(mf, 1) > 0 and row['est_ready'] == row['est_end'],
            'schedule: the ready job\'s next sync at its next_sync (%s), its delta as the earlier sync (%d bytes)'
            % (iso(next_sync), delta_bytes(mf, 1)), row)
    r = mf.run('schedule')
    c.check(r.rc == 0 and 'ready: next incremental sync; delta as earlier syncs' in r.out and
            'delta passes: 1 as the job\'s earlier syncs' in r.out, 'schedule: NOTE and basis say so', r)


def suspend_and_cutover(c, mf, clock, src, dst):
    corpus.bulk(src, 'user001', 300, folders=['INBOX', 'Projects'], sizes='small', seed=3)
    r = mf.run('queue', 'src', 'dst', 'user001', '--suspend-when-ready')
    c.check(r.rc == 0 and 'job 1 queued' in r.out, 'queue user001 --suspend-when-ready (job 1)', r)
    r = mf.run('cutover', '1', '--at', 'soon')
    c.check(r.rc == 64 and "bad --at 'soon'" in r.err, 'cutover --at with a bad time: exit 64', r)
    r = mf.run('run')
    c.check(r.rc == 0 and job(mf, 1)[0] == 'ready', 'initial pass ends ready to complete (%s)'
            % job(mf, 1)[0], r)
    c.check('ready to complete' in r.err and 'cutover JOB' in r.err,
            'run says the job waits ready and how to complete it', r)
    n = jobs.exactly_once(c, 'after the initial pass', src, dst, 'user001')
    r = mf.run('jobs')
    c.check(r.rc == 0 and ' ready ' in r.out and 'next sync 2' in r.out, 'jobs lists it ready, with its next sync', r)
    r = mf.run('job', 'show', '1')
    c.check(r.rc == 0 and 'job 1: ready to complete' in r.out and 'phase        incremental' in r.out and
            'next sync 2' in r.out, 'job show: ready to complete, its phase and next sync', r)
    r = mf.run('events', '--job', '1')
    c.check('ready to complete' in r.out and 'every 24 h' in r.out, 'event: ready, syncs every 24 h', r)

    corpus.add_messages(src, 'user001', 'INBOX', 7, seed=41)
    r = mf.run('run')
    d = imapcheck.read_user_tree(dst, 'user001', keep_bodies=False)
    c.check(r.rc == 0 and d.count() == n and job(mf, 1)[0] == 'ready',
            'before the interval no incremental sync runs (target %d of %d)' % (d.count(), n + 7), r)

    clock.move(24 * 3600 + 60)
    r = mf.run('run')
    c.check(r.rc == 0 and job(mf, 1)[0] == 'ready', 'after 24 h: an incremental sync, ready again', r)
    jobs.exactly_once(c, 'after the incremental sync (7 new)', src, dst, 'user001')
    kinds = [k for (k,) in jobs.query(mf, 'SELECT kind FROM passes WHERE job_id=1 ORDER BY id')]
    c.check(kinds == ['full', 'delta'], 'passes: the initial full pass, then a delta (%s)' % kinds)
    schedule_ready(c, mf)

    corpus.add_messages(src, 'user001', 'Projects', 5, seed=42)
    r = mf.run('cutover', '1')
    c.check(r.rc == 0 and 'completing' in r.out and job(mf, 1)[0] == 'completing',
            'cutover 1: completing', r)
    r = mf.run('cutover', '1', '2')
    c.check(r.rc == 78 and 'no job 2' in r.err, 'cutover of an unknown job: exit 78', r)
    row = schedule_row(mf, 1)
    c.check(row and row['state'] == 'completing' and row['phase'] == 'final' and
            abs(parse_iso(row['est_start']) - clock.t) <= 5 and row['size_bytes'] == str(delta_bytes(mf, 1)),
            'schedule: the completing job\'s final pass now, its delta as the earlier sync',
            (row, iso(clock.t), delta_bytes(mf, 1)))
    r = mf.run('run')
    c.check(r.rc == 0 and job(mf, 1)[0] == 'completed', 'the final pass completes the job (%s)'
            % job(mf, 1)[0], r)
    jobs.exactly_once(c, 'after the cutover (5 new)', src, dst, 'user001')
    kinds = [k for (k,) in jobs.query(mf, 'SELECT kind FROM passes WHERE job_id=1 ORDER BY id')]
    c.check(kinds == ['full', 'delta', 'delta'], 'passes: full, delta, delta (%s)' % kinds)
    r = mf.run('cutover', '1')
    c.check(r.rc == 78 and 'completed' in r.err and fixtures.one_line_error(r),
            'cutover of a completed job: exit 78 naming its state', r)


def blackout_mid_copy(c, mf, clock, src, dst):
    st = corpus.bulk(src, 'user002', 4000, folders=['INBOX'] + ['f%d' % i for i in range(1, 6)],
                     sizes='small', seed=12)
    c.info('user002: %d messages' % st['messages'])
    start = clock.t + 2 * 3600
    with proxy.Proxy(('127.0.0.1', dst.port), delay_ms=3) as pd:
        mf.endpoint_add('slow', Via(dst, pd))
        r = mf.run('queue', 'src', 'slow', 'user002')
        c.check(r.rc == 0 and 'job 2 queued' in r.out, 'queue user002 through a slow proxy (job 2)', r)
        r = mf.run('blackout', 'add', 'maintenance', '--start', utc(start), '--end', utc(start + 3600),
                   '--tz', 'UTC', '--mailbox', 'user002')
        c.check(r.rc == 0, 'blackout "maintenance" for user002, 2 h from now, 1 h long', r)
        run = mf.start('run', '--follow', '--workers', '2')
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (job(mf, 2)[0] == 'running' and job(mf, 2)[1] > 0):
            time.sleep(0.05)
        c.check(job(mf, 2)[0] == 'running' and job(mf, 2)[1] > 0, 'job 2 copies before the window')
        clock.set(start + 60)      # into the window
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and job(mf, 2)[0] == 'running':
            time.sleep(0.05)
        state, done, _ = job(mf, 2)
        c.check(state == 'queued', 'the window begins: job 2 stops at a checkpoint and waits queued '
                '(%s after %d messages)' % (state, done))
        ev = [m for (m,) in jobs.query(mf, "SELECT message FROM events WHERE job_id=2 AND message LIKE "
                                  "'stopped at a checkpoint for blackout maintenance%'")]
        c.check(len(ev) == 1, 'one event names the window: %s' % ev)
        time.sleep(1.5)
        c.check(job(mf, 2)[0] == 'queued', 'the follow run does not restart it inside the window')
        jobs.partly_copied(c, src, dst, 'user002')
        clock.set(start + 3600 + 60)    # past the window
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and job(mf, 2)[0] != 'completed':
            time.sleep(0.1)
        c.check(job(mf, 2)[0] == 'completed', 'after the window the follow run resumes and completes it '
                '(%s)' % job(mf, 2)[0])
        run.send_signal(signal.SIGINT)
        r = mf.finish(run, timeout=30)
        c.check(r.rc == 0, 'Ctrl-C ends run --follow cleanly: exit %s' % r.rc, r)
    jobs.exactly_once(c, 'blackout mid-copy', src, dst, 'user002')


def final_mode(c, mf, clock, src, dst):
    corpus.bulk(src, 'user003', 120, sizes='small', seed=13)
    r = mf.run('queue', 'src', 'dst', 'user003', '--suspend-when-ready')
    c.check(r.rc == 0 and 'job 3 queued' in r.out, 'queue user003 --suspend-when-ready (job 3)', r)
    now = clock.t
    r = mf.run('blackout', 'add', 'cutover-freeze', '--start', utc(now - 60), '--end', utc(now + 3600),
               '--tz', 'UTC', '--mailbox', 'user003', '--mode', 'final')
    c.check(r.rc == 0, 'blackout in mode final around now', r)
    r = mf.run('blackout', 'add', 'again', '--start', utc(now + 1800), '--end', utc(now + 7200),
               '--tz', 'UTC', '--mailbox', 'user003')
    c.check(r.rc == 78 and 'overlaps blackout cutover-freeze' in r.err and fixtures.one_line_error(r),
            'an overlapping window for the same mailbox: exit 78 naming the other', r)
    r = mf.run('run')
    c.check(r.rc == 0 and job(mf, 3)[0] == 'ready',
            'a final-mode window does not hold the initial pass: ready (%s)' % job(mf, 3)[0], r)
    r = mf.run('cutover', '3')
    c.check(r.rc == 0 and job(mf, 3)[0] == 'completing', 'cutover 3', r)
    r = mf.run('run')
    c.check(r.rc == 0 and job(mf, 3)[0] == 'completing' and 'held by blackout' in r.err and
            'cutover-freeze' in r.err, 'but it holds the cutover; run says so', r)
    clock.set(now + 3600 + 60)
    r = mf.run('run')
    c.check(r.rc == 0 and job(mf, 3)[0] == 'completed', 'after the window the cutover completes', r)
    jobs.exactly_once(c, 'final mode', src, dst, 'user003')


def endpoint_pause(c, mf, clock, src, dst):
    for u in ('user004', 'user005', 'user006'):
        corpus.bulk(src, u, 20, sizes='small', seed=int(u[-1]))
    mf.endpoint_add('bad', dst, password='wrong-password')
    r = mf.run('queue', 'src', 'bad', 'user004', 'user005', 'user006')
    c.check(r.rc == 0 and 'job 6 queued' in r.out, 'queue three mailboxes to an endpoint with a wrong '
            'password (jobs 4-6)', r)
    r = mf.run('run', '--workers', '4')     # all three meet the refusal at once
    states = [job(mf, j)[0] for j in (4, 5, 6)]
    c.check(r.rc == 77 and states == ['paused'] * 3, 'the login refusal pauses every job of the '
            'endpoint: %s, exit %s' % (states, r.rc), r)
    by = job(mf, 5)[2]
    c.check(by == 'endpoint bad: authentication failed', 'paused by "%s"' % by)
    errors = jobs.query(mf, 'SELECT message FROM events WHERE level=0 AND job_id IN (4,5,6)')
    c.check(len(errors) == 1 and 'resume --endpoint bad' in errors[0][0],
            'one error event, not one failure per job: %s' % errors)
    failed = jobs.query(mf, "SELECT count(*) FROM jobs WHERE state='failed'")[0][0]
    c.check(failed == 0, 'no job failed')
    r = mf.run('run')
    c.check(r.rc == 0 and [job(mf, j)[0] for j in (4, 5, 6)] == ['paused'] * 3,
            'run leaves them paused', r)
    with open(mf.password_files['bad'], 'w') as f:
        f.write(dst.admin_password + '\n')
    r = mf.run('resume', '--endpoint', 'nope')
    c.check(r.rc == 78 and 'nope' in r.err, 'resume --endpoint of an unknown endpoint: exit 78', r)
    r = mf.run('resume', '--endpoint', 'bad')
    c.check(r.rc == 0 and '3 job(s) of endpoint bad resumed' in r.out, 'resume --endpoint bad', r)
    r = mf.run('run')
    states = [job(mf, j)[0] for j in (4, 5, 6)]
    c.check(r.rc == 0 and states == ['completed'] * 3, 'with the password fixed they complete: %s'
            % states, r)
    for u in ('user004', 'user005', 'user006'):
        jobs.exactly_once(c, 'after the endpoint pause', src, dst, u)

    # One mailbox the server does not know is that job's failure, not the endpoint's.
    corpus.bulk(src, 'user007', 10, sizes='small', seed=7)
    r = mf.run('queue', 'src', 'dst', 'ghost', 'user007')
    c.check(r.rc == 0 and 'job 8 queued' in r.out, 'queue a mailbox the source does not have (job 7)', r)
    r = mf.run('run', '--workers', '1')
    c.check(job(mf, 7)[0] == 'failed' and job(mf, 8)[0] == 'completed',
            'a refused login while the admin still logs in fails only that job (%s, %s)'
            % (job(mf, 7)[0], job(mf, 8)[0]), r)


def seed_failure(mf, jid, src_uids, failed_uid):
    """Forgets the copies of src_uids in INBOX (map rows) and records failed_uid
    as a failed item of job jid, which becomes partial."""
    con = sqlite3.connect(mf.store, timeout=10)
    try:
        fid = con.execute("SELECT f.id FROM folders f JOIN jobs j ON j.pair_id=f.pair_id "
                          "WHERE j.id=? AND f.src_name='INBOX'", (jid,)).fetchone()[0]
        dst_uids = [con.execute('SELECT dst_uid FROM messages WHERE folder_id=? AND src_uid=?',
                                (fid, u)).fetchone()[0] for u in src_uids]
        con.executemany('DELETE FROM messages WHERE folder_id=? AND src_uid=?', [(fid, u) for u in src_uids])
        con.execute("UPDATE folders SET src_uidnext=0, src_modseq=0 WHERE id=?", (fid,))
        con.execute("INSERT INTO skipped(job_id, folder_id, folder, src_uid, size, reason, ts, failed) "
                    "VALUES(?,?,'INBOX',?,100,'NO refused by the target',0,1)", (jid, fid, failed_uid))
        con.execute("UPDATE jobs SET state='partial', items_failed=1 WHERE id=?", (jid,))
        con.commit()
        return dst_uids
    finally:
        con.close()


def retry_errors(c, mf, src, dst):
    corpus.bulk(src, 'user008', 30, sizes='small', seed=8)
    r = mf.run('queue', 'src', 'dst', 'user008')
    c.check(r.rc == 0 and 'job 9 queued' in r.out, 'queue user008 (job 9)', r)
    r = mf.run('run')
    c.check(r.rc == 0 and job(mf, 9)[0] == 'completed', 'job 9 completed', r)
    dst_uids = seed_failure(mf, 9, [5, 9], 5)
    con = sqlite3.connect(mf.store, timeout=10)
    con.execute("INSERT INTO skipped(job_id, folder_id, folder, src_uid, size, reason, ts, failed) "
                "SELECT 9, folder_id, 'INBOX', 30, 100, 'Too big for the target', 0, 0 FROM skipped "
                "WHERE job_id=9 AND src_uid=5")
    con.commit()
    con.close()
    r = mf.run('skipped', '--job', '9')
    lines = r.out.splitlines()
    c.check(r.rc == 0 and len(lines) == 2 and re.match(r'job 9  failed +folder "INBOX"  UID 5 ', lines[0]) and
            re.match(r'job 9  skipped +folder "INBOX"  UID 30 .*Too big', lines[1]),
            'skipped marks UID 5 failed (retried) and UID 30 skipped for good', r)
    r = mf.run('job', 'show', '9')
    c.check(r.rc == 0 and re.search(r'^  failed +"INBOX" UID 5,', r.out, re.M) and
            re.search(r'^  skipped +"INBOX" UID 30,', r.out, re.M), 'job show marks them the same way', r)
    conn = imapcheck.connect(dst, 'user008')
    try:
        for u in dst_uids:
            imapcheck.expunge_uid(conn, 'INBOX', u)
    finally:
        imapcheck.logout(conn)
    r = mf.run('retry', '9')
    c.check(r.rc == 0 and 'only its failed items' in r.out and job(mf, 9)[0] == 'queued',
            'retry of the partial job: only its failed items', r)
    r = mf.run('run')
    d = imapcheck.read_user_tree(dst, 'user008', keep_bodies=False)
    c.check(r.rc == 0 and job(mf, 9)[0] == 'completed' and d.count() == 29,
            'the retry copies the failed item and nothing else: completed, 29 of 30 on the target '
            '(%s, %d)' % (job(mf, 9)[0], d.count()), r)
    last = jobs.query(mf, 'SELECT kind, copied FROM passes WHERE job_id=9 ORDER BY id DESC LIMIT 1')[0]
    c.check(last == ('retry-errors', 1), 'the pass: retry-errors, 1 copied (%s)' % (last,))
    left = jobs.query(mf, 'SELECT count(*) FROM skipped WHERE job_id=9 AND failed=1')[0][0]
    c.check(left == 0, 'no failed item left')
    r = mf.run('skipped', '--job', '9')
    c.check(r.rc == 0 and len(r.out.splitlines()) == 1 and 'skipped  folder "INBOX"  UID 30' in r.out,
            'after the retry only the item skipped for good is listed', r)
    r = mf.run('retry', '9')
    c.check(r.rc == 78 and 'completed' in r.err, 'retry of a completed job: exit 78', r)
    con = sqlite3.connect(mf.store, timeout=10)
    con.execute("UPDATE jobs SET state='failed' WHERE id=9")
    con.commit()
    con.close()
    r = mf.run('retry', '9', '--full')
    c.check(r.rc == 0 and 'resumes' in r.out, 'retry --full', r)
    r = mf.run('run')
    c.check(r.rc == 0 and job(mf, 9)[0] == 'completed', 'the full pass completes it', r)
    jobs.exactly_once(c, 'after retry --full', src, dst, 'user008')


def two_zones_across_dst(c, mf, clock):
    import calendar

    def at(s):
        return calendar.timegm(time.strptime(s, '%Y-%m-%d %H:%M'))

    for name, start, end, tz, user in (
            ('ny-standup', '2027-03-01 09:00', '2027-03-01 10:00', 'America/New_York', 'user006'),
            ('paris-evening', '2027-03-01 18:00', '2027-03-01 19:00', 'Europe/Paris', 'user005')):
        r = mf.run('blackout', 'add', name, '--start', start, '--end', end, '--tz', tz, '--weekly',
                   '--mailbox', user)
        c.check(r.rc == 0, 'weekly blackout %s %s-%s %s for %s' % (name, start[11:], end[11:], tz, user), r)
    r = mf.run('queue', 'src', 'dst', 'user006')
    c.check(r.rc == 0 and 'job 10 queued' in r.out, 'queue user006 (job 10)', r)
    clock.set(at('2027-03-08 14:30'))     # 09:30 EST
    r = mf.run('run')
    c.check(job(mf, 10)[0] == 'queued' and 'ny-standup' in r.err,
            'Monday 8 March 14:30 UTC is 09:30 in New York (EST): held', r)
    clock.set(at('2027-03-15 14:30'))     # 10:30 EDT, a day after the change
    r = mf.run('run')
    c.check(job(mf, 10)[0] == 'completed', 'a week later 14:30 UTC is 10:30 EDT: the window (still '
            '09:00-10:00 wall time) is over, the job runs (%s)' % job(mf, 10)[0], r)
    r = mf.run('queue', 'src', 'dst', 'user005')
    c.check(r.rc == 0 and 'job 11 queued' in r.out, 'queue user005 (job 11)', r)
    clock.set(at('2027-03-29 16:30'))     # 18:30 CEST, a day after the change
    r = mf.run('run')
    c.check(job(mf, 11)[0] == 'queued' and 'paris-evening' in r.err,
            'Monday 29 March 16:30 UTC is 18:30 in Paris (CEST): held (in winter it was 17:30)', r)
    clock.set(at('2027-03-29 17:05'))     # 19:05 CEST
    r = mf.run('run')
    c.check(job(mf, 11)[0] == 'completed', '17:05 UTC (19:05 CEST): the job runs (%s)' % job(mf, 11)[0], r)


def initial_mode(c, mf, clock, src, dst):
    """Mode initial: the initial pass waits; a cutover given meanwhile is kept,
    so once the window is over the job goes straight through to completed."""
    corpus.add_messages(src, 'user003', 'INBOX', 4, seed=44)
    r = mf.run('queue', 'src', 'dst', 'user003', '--suspend-when-ready', '--pass', 'delta')
    m = re.search(r'job (\d+) queued', r.out)
    c.check(r.rc == 0 and m, 'queue user003 again', r)
    jid = int(m.group(1)) if m else 0
    now = clock.t
    r = mf.run('blackout', 'add', 'prestage-freeze', '--start', utc(now - 60), '--end', utc(now + 3600),
               '--tz', 'UTC', '--mailbox', 'user003', '--mode', 'initial')
    c.check(r.rc == 0, 'blackout in mode initial around now', r)
    r = mf.run('cutover', str(jid))
    c.check(r.rc == 0 and 'completes after its current pass' in r.out, 'cutover of a queued job: remembered', r)
    r = mf.run('run')
    c.check(job(mf, jid)[0] == 'queued' and 'prestage-freeze' in r.err,
            'an initial-mode window holds the initial pass', r)
    clock.set(now + 3600 + 60)
    r = mf.run('run')
    c.check(r.rc == 0 and job(mf, jid)[0] == 'completed', 'after it, the initial and the final pass in one '
            'run: completed (%s)' % job(mf, jid)[0], r)
    kinds = [k for (k,) in jobs.query(mf, 'SELECT kind FROM passes WHERE job_id=? ORDER BY id', jid)]
    c.check(kinds == ['delta', 'delta'], 'two passes: the initial (its own kind, delta) and the final (%s)'
            % kinds)
    jobs.exactly_once(c, 'initial mode', src, dst, 'user003')



def postpone(c, mf, clock, src, dst):
    """A user's postponement: refused while the mailbox's forest does not let
    users postpone; then a blackout for that mailbox holds its job until the
    time given (a second postponement replaces the first); --clear lets it
    run; --no-allow-postpone takes the right back."""
    corpus.bulk(src, 'user009', 15, sizes='small', seed=19)
    r = mf.run('forest', 'add', 'home', '--role', 'source')
    c.check(r.rc == 0, 'forest add home', r)
    mf.endpoint_add('src-home', src, extra=('--forest', 'home'))
    r = mf.run('queue', 'src-home', 'dst', 'user009')
    m = re.search(r'job (\d+) queued', r.out)
    c.check(r.rc == 0 and m, 'queue user009 from src-home (forest home)', r)
    jid = int(m.group(1)) if m else 0
    until = clock.t + 2 * 3600
    r = mf.run('mailbox', 'postpone', 'user009', '--until', utc(until), '--tz', 'UTC')
    c.check(r.rc == 78 and 'forest home does not let its users postpone' in r.err and
            'forest set home --allow-postpone' in r.err and fixtures.one_line_error(r),
            'postpone refused while the forest does not allow it: exit 78 with the fix', r)
    r = mf.run('forest', 'set', 'home', '--allow-postpone')
    c.check(r.rc == 0, 'forest set home --allow-postpone', r)
    r = mf.run('mailbox', 'postpone', 'user009', '--until', utc(clock.t + 3600), '--tz', 'UTC')
    c.check(r.rc == 0 and 'postponed until' in r.out, 'mailbox postpone user009 by an hour', r)
    r = mf.run('mailbox', 'postpone', 'user009', '--until', utc(until), '--tz', 'UTC')
    c.check(r.rc == 0 and 'postponed until %s' % utc(until) in r.out,
            'a second postponement replaces the first (no overlap refusal)', r)
    r = mf.run('blackout', 'list')
    c.check(r.out.count('postpone user009') == 1, 'one blackout "postpone user009"', r)
    r = mf.run('run')
    c.check(job(mf, jid)[0] == 'queued' and job(mf, jid)[1] == 0 and 'postpone user009' in r.err,
            'the postponed job waits and run says why (%s)' % (job(mf, jid),), r)
    r = mf.run('mailbox', 'postpone', 'user009', '--clear')
    c.check(r.rc == 0 and 'postponement removed' in r.out, 'mailbox postpone --clear', r)
    r = mf.run('run')
    c.check(job(mf, jid)[0] == 'completed', 'then it runs (%s)' % (job(mf, jid),), r)
    jobs.exactly_once(c, 'postponed then cleared', src, dst, 'user009')
    r = mf.run('forest', 'set', 'home', '--no-allow-postpone')
    c.check(r.rc == 0, 'forest set home --no-allow-postpone', r)
    r = mf.run('mailbox', 'postpone', 'user009', '--until', utc(until), '--tz', 'UTC')
    c.check(r.rc == 78 and 'does not let its users postpone' in r.err, 'and postponing is refused again', r)


if __name__ == '__main__':
    report.main(main, 'test_lifecycle')
