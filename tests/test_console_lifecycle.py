#!/usr/bin/python3
"""The job lifecycle in the console's Mailbox Jobs view, driven in tmux with
the engine off (no mail servers needed): a job a blackout holds shows
"scheduled" with the window and its end, and stops being held when the test
clock leaves the window; a job ready to complete shows "ready" with its next
incremental sync; C cuts it over (completing) and the detail says so; C on a
job without suspend-when-ready is refused on the status line; the job's
detail marks each skipped item failed (retry copies it) or skipped for good.

The states are seeded in the store with sqlite3 as an engine would leave
them (the engine side is tests/test_lifecycle.py).

Run: MAILFERRY=./mailferry python3 tests/test_console_lifecycle.py   (0 pass, 77 skip, 1 fail)
"""

import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, report, term          # noqa: E402


def main(c):
    term.require()
    cli.require_binary()
    mf = cli.Mailferry()
    clock = os.path.join(mf.dir, 'clock')
    t0 = (int(time.time()) // 60) * 60
    with open(clock, 'w') as f:
        f.write('%d\n' % t0)
    env = {'MFTEST_PW': 'not-used', 'MAILFERRY_TEST_CLOCK': clock}
    try:
        for name, port in (('src', 1), ('dst', 2)):
            r = mf.run('endpoint', 'add', name, 'imap://127.0.0.1:%d' % port, '--user', 'admin',
                       '--password-env', 'MFTEST_PW', env=env)
            c.check(r.rc == 0, 'endpoint %s added' % name, r)
        r = mf.run('queue', 'src', 'dst', 'alice', 'bob', '--suspend-when-ready', env=env)
        c.check(r.rc == 0, 'alice and bob queued with --suspend-when-ready', r)
        r = mf.run('queue', 'src', 'dst', 'carol', env=env)
        c.check(r.rc == 0, 'carol queued', r)
        start = time.strftime('%Y-%m-%d %H:%M', time.gmtime(t0 - 3600))
        end = time.strftime('%Y-%m-%d %H:%M', time.gmtime(t0 + 3600))
        r = mf.run('blackout', 'add', 'freeze', '--start', start, '--end', end, '--tz', 'UTC',
                   '--mailbox', 'bob', env=env)
        c.check(r.rc == 0, 'blackout "freeze" for bob around now', r)
        db = sqlite3.connect(mf.store)
        db.execute("UPDATE jobs SET state='ready', phase='initial', next_sync=?, ready_at=? WHERE id=1",
                   (t0 + 24 * 3600, t0))
        # Job 1's skipped list: UID 5 failed (retry copies it), UID 6 skipped for good.
        db.executemany("INSERT INTO skipped(job_id, folder_id, folder, src_uid, size, reason, ts, failed) "
                       "VALUES(1, 1, 'INBOX', ?, 100, ?, 0, ?)",
                       [(5, 'NO refused by the target', 1), (6, 'Too big for the target', 0)])
        db.commit()
        db.close()
        with term.Term(mf, 'console --no-engine', 200, 50, env=env) as t:
            ok, text = t.wait(lambda s: 'Mailbox Jobs' in s or 'Forests' in s)
            c.check(ok, 'the console starts', text)
            t.keys('3')
            ok, text = t.wait(lambda s: 'blackout freeze until' in s and 'ready to complete' in s)
            c.check(ok, 'Mailbox Jobs shows the hold and the ready job', text)
            c.check('scheduled' in term.row_of(text, 'bob (src>dst)'),
                    'bob: scheduled, blackout freeze until its end', term.row_of(text, 'bob (src>dst)'))
            c.check(' ready ' in term.row_of(text, 'alice (src>dst)') and 'next incremental sync' in term.row_of(text, 'alice'),
                    'alice: ready, with its next incremental sync', term.row_of(text, 'alice'))
            with open(clock + '.tmp', 'w') as f:
                f.write('%d\n' % (t0 + 2 * 3600))
            os.replace(clock + '.tmp', clock)
            ok, text = t.wait(lambda s: 'blackout freeze' not in s and 'queued' in term.row_of(s, 'bob (src>dst)'))
            c.check(ok, 'the clock leaves the window: bob is plain queued again', term.row_of(text, 'bob'))

            t.keys('Home')            # alice, the first in the queue
            t.keys('C')
            ok, text = t.wait(lambda s: 'job 1 cut over' in s)
            c.check(ok and 'completing' in term.row_of(text, 'alice (src>dst)'),
                    'C on alice: cut over, completing', text)
            t.keys('End')             # carol, without suspend-when-ready
            t.keys('C')
            ok, text = t.wait(lambda s: 'job 3 has no cutover' in s)
            c.check(ok, 'C on carol: refused, she completes by herself', text)
            t.keys('Home', 'Enter')
            ok, text = t.wait(lambda s: 'Job 1:' in s and 'Cutover' in s)
            c.check(ok and 'completing' in term.row_of(text, 'State') and 'final' in term.row_of(text, 'Phase') and
                    'Ready to complete since' in text, 'the detail: completing, phase, ready since, cutover',
                    text)
            c.check('failed (retry copies it)' in term.row_of(text, 'INBOX UID 5') and
                    'skipped for good' in term.row_of(text, 'INBOX UID 6'),
                    'the detail marks UID 5 failed (retried) and UID 6 skipped for good', text)
            t.keys('q')
        db = sqlite3.connect(mf.store)
        got = db.execute('SELECT state, cutover_at IS NOT NULL FROM jobs WHERE id=1').fetchone()
        db.close()
        c.check(got == ('completing', 1), 'the store has job 1 completing with its cutover time: %s' % (got,))
    finally:
        mf.cleanup()


if __name__ == '__main__':
    report.main(main, 'test_console_lifecycle')
