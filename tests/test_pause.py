#!/usr/bin/python3
"""Pause and resume through the store's commands: `mailferry pause JOB` on a job
that a background `mailferry run` (another process) is copying stops it at its
next checkpoint and leaves it paused, with part of the mailbox on the target;
`mailferry resume JOB` and another run complete it with every message exactly
once.  Also: pausing a queued job, and the errors for resume of a job that is
not paused (exit 78).

Run: MAILFERRY=src/mailferry python3 tests/test_pause.py   (exit 0 pass, 77 skip, 1 fail)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import corpus, fixtures, jobs, proxy, report     # noqa: E402

MESSAGES = 4000


Via = proxy.Via


def main(c):
    fixtures.run_on_pair(c, run_checks, users=5)


def run_checks(c, mf, src, dst):
    st = corpus.bulk(src, 'user001', MESSAGES, folders=['INBOX'] + ['f%d' % i for i in range(1, 8)],
                     sizes='small', seed=11)
    c.info('source user001: %d messages (%.1f MB)' % (st['messages'], st['bytes'] / 1e6))
    with proxy.Proxy(('127.0.0.1', dst.port), delay_ms=3) as pd:
        mf.endpoint_add('src', src)
        mf.endpoint_add('dst', Via(dst, pd))
        r = mf.run('queue', 'src', 'dst', 'user001')
        c.check(r.rc == 0 and 'job 1 queued' in r.out, 'queue user001 (job 1)', r)

        # ---------------------------------------------------- pause while running
        run = mf.start('run', '--workers', '2')
        deadline = time.monotonic() + 60
        state, done = jobs.job_state(mf, 1)
        while time.monotonic() < deadline and not (state == 'running' and done > 0):
            time.sleep(0.05)
            state, done = jobs.job_state(mf, 1)
        c.check(state == 'running' and done > 0, 'job 1 running and copying (%s, %d done)'
                % (state, done))
        r = mf.run('pause', '1')
        c.check(r.rc == 0 and 'next checkpoint' in r.out,
                'pause 1 while it runs: accepted, stops at its next checkpoint', r)
        r = mf.finish(run, timeout=120)
        c.check(r.rc == 0, 'run ends by itself once the paused job has stopped: exit %s' % r.rc, r)
        state, done = jobs.job_state(mf, 1)
        c.check(state == 'paused', 'job 1 is paused (state %s after %d messages)' % (state, done))
        r = mf.run('jobs')
        c.check(r.rc == 0 and 'paused' in r.out, 'jobs shows it paused', r)
        r = mf.run('events', '--job', '1')
        c.check('paused by admin' in r.out, 'event "paused by admin"', r)
        jobs.partly_copied(c, src, dst, 'user001')

        r = mf.run('pause', '1')
        c.check(r.rc == 78 and 'already paused' in r.err, 'pause of a paused job: exit 78', r)
        r = mf.run('run')
        c.check(r.rc == 0 and jobs.job_state(mf, 1)[0] == 'paused',
                'run leaves a paused job alone', r)

        # ---------------------------------------------------- resume and complete
        r = mf.run('resume', '1')
        c.check(r.rc == 0 and 'resumed' in r.out, 'resume 1', r)
        r = mf.run('resume', '1')
        c.check(r.rc == 78 and 'not paused' in r.err and fixtures.one_line_error(r),
                'resume of a queued job: exit 78 with the reason', r)
        r = mf.run('run', timeout=300)
        c.check(r.rc == 0 and jobs.job_state(mf, 1)[0] == 'completed', 'run completes job 1', r)
        jobs.exactly_once(c, 'after resume', src, dst, 'user001')

        # ---------------------------------------------------- queued jobs
        r = mf.run('queue', 'src', 'dst', 'user002')
        c.check(r.rc == 0 and 'job 2 queued' in r.out, 'queue user002 (job 2)', r)
        r = mf.run('pause', '2')
        c.check(r.rc == 0 and 'job 2 paused' in r.out and jobs.job_state(mf, 2)[0] == 'paused',
                'pause of a queued job: paused at once', r)
        r = mf.run('run')
        c.check(r.rc == 0 and jobs.job_state(mf, 2)[0] == 'paused', 'run does not start a paused job', r)
        r = mf.run('resume', '2')
        c.check(r.rc == 0 and jobs.job_state(mf, 2)[0] == 'queued', 'resume 2: queued again', r)
        r = mf.run('pause', '1')
        c.check(r.rc == 78 and 'completed' in r.err, 'pause of a completed job: exit 78 with its state', r)
        r = mf.run('resume', '99')
        c.check(r.rc == 78 and '99' in r.err, 'resume of an unknown job: exit 78', r)
        r = mf.run('pause', 'x')
        c.check(r.rc == 64, 'pause with a bad id: exit 64', r)
    c.check(mf.store_integrity() == 'ok', 'store integrity_check ok')


if __name__ == '__main__':
    report.main(main, 'test_pause')
