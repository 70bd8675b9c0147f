#!/usr/bin/python3
"""The console (ui/), driven like a person would: it runs inside a real
terminal (tmux, read back with capture-pane) while its engine thread
migrates mailboxes between the test Dovecot servers.

Checks: the toolbar and Mailbox Jobs updating live to "completed"; the
Event log, Summary, Metrics, Help and About views; search, sort and the ":"
command line; a pause and a resume in the middle of a real migration (slow
proxies) that ends with every message copied exactly once; resize to 80x24
and back; quitting while a job runs, choosing "pause" (the job is paused,
resumed later from the CLI, nothing lost); and the job actions (cancel asks
first, retry, moves) with the engine off.

Covers ui/console.c (loop, key table, prompts, mouse), ui/draw.c (cells,
tables, dialogs), ui/kv.c, and the views ui/view_jobs.c, view_job_detail.c,
view_events.c, view_summary.c, view_metrics.c, view_help.c, view_about.c.

Run: MAILFERRY=./mailferry python3 tests/test_console.py   (exit 0 pass, 77 skip, 1 fail)
"""

import os
import re
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, corpus, fixtures, jobs, proxy, report, term     # noqa: E402
from mftest.term import row_of                                             # noqa: E402


Via = proxy.Via


def state_in_row(text, user):
    m = re.search(r'^\s*\*?\s*\d+\s+(\w+)\s', row_of(text, user[:7] + ' ') or row_of(text, user))
    return m.group(1) if m else ''


def views_and_live_progress(c, mf, src, dst):
    corpus.bulk(src, 'user001', 60, folders=['Projects', 'Projects/2024'], sizes='small', seed=41)
    corpus.bulk(src, 'user002', 20, folders=['INBOX'], sizes='small', seed=42)
    mf.endpoint_add('src', src)
    mf.endpoint_add('dst', dst)
    r = mf.run('queue', 'src', 'dst', 'user001', 'user002')
    c.check(r.rc == 0, 'two jobs queued', r)
    with term.Term(mf, 'console --workers 2', 110, 30) as t:
        ok, text = t.wait(lambda s: '3 Mailbox Jobs' in s.split('\n')[0] and '? Help' in s.split('\n')[0])
        c.check(ok, 'console starts on Mailbox Jobs; the toolbar names every view', text)
        ok, text = t.wait(lambda s: state_in_row(s, 'user001') == 'completed' and
                          state_in_row(s, 'user002') == 'completed', 90)
        c.check(ok, 'Mailbox Jobs shows both jobs completed, live', text)
        c.check(re.search(r'user001 \(src>dst\)\s+60\s+100%', text) is not None,
                'the row shows 60 items, 100%', row_of(text, 'user001'))
        t.keys('9')
        ok, text = t.wait(lambda s: 'WHAT HAPPENED' in s and 'pass finished' in s, 15)
        c.check(ok, 'key 9 opens the Event log with the passes', text)
        t.keys('/')
        t.type('user002')
        ok, text = t.wait(lambda s: 'user001' not in '\n'.join(s.split('\n')[2:-1]) and 'user002' in s, 10)
        c.check(ok, 'search as you type narrows the Event log to user002', text)
        t.keys('Escape')
        t.keys('5')
        ok, text = t.wait(lambda s: re.search(r'completed\s+2\b', s) and re.search(r'Messages copied\s+80\b', s), 15)
        c.check(ok, 'key 5 opens the Summary: 2 jobs completed, 80 messages copied', text)
        t.keys('7')
        ok, text = t.wait(lambda s: 'MESSAGES (chart)' in s and sum(
            int(m) for m in re.findall(r'^\d\d-\d\d \d\d:\d\d\s+(\d+)', s, re.M)) == 80, 15)
        c.check(ok, 'key 7 opens Metrics: per-minute rows adding up to the 80 messages', text)
        done = sum(int(m) for m in re.findall(r'^\d\d-\d\d \d\d:\d\d\s+\d+\s+[\d.]+ \w+\s+(\d+)', text, re.M))
        c.check(done == 2, 'and 2 mailboxes completed (%d)' % done, text)
        t.keys('Right')
        ok, text = t.wait(lambda s: 'Per hour over the last 72 hours' in s and re.search(r'\d\d-\d\d \d\d:00', s), 10)
        c.check(ok, 'Right switches Metrics to hours', text)
        t.keys('3', '?')
        ok, text = t.wait(lambda s: 'Keys in Mailbox Jobs' in s and ':pause' in s and ':resume' in s, 15)
        c.check(ok, '? opens Help for Mailbox Jobs, written from the key table', text)
        t.keys('Escape', 'i')
        ok, text = t.wait(lambda s: 'SQLite' in s and 'libcurl' in s and 'store' in s, 10)
        c.check(ok, 'i opens About: versions and the store path', text)
        t.keys('3', ':')
        t.type('sort items')
        t.keys('Enter')
        ok, text = t.wait(lambda s: 'sorted by ITEMS' in s and
                          s.find('user002 (src') < s.find('user001 (src'), 10)
        c.check(ok, ':sort items puts user002 (20) before user001 (60)', text)
        t.keys(':')
        t.type('frobnicate')
        t.keys('Enter')
        ok, text = t.wait(lambda s: 'no command "frobnicate"' in s, 10)
        c.check(ok, 'an unknown command is named in the status line', text)
        t.resize(80, 24)
        ok, text = t.wait(lambda s: len(s.split('\n')[0].rstrip()) <= 80 and 'Mailbox Jobs' in s.split('\n')[0]
                          and 'user001' in s and len(s.rstrip('\n').split('\n')) <= 24, 15)
        c.check(ok, 'resized to 80x24: toolbar and jobs still drawn', text)
        t.resize(110, 30)
        ok, text = t.wait(lambda s: '? Help' in s.split('\n')[0], 15)
        c.check(ok, 'and back to 110x30: the full toolbar again', text)
        t.keys('q')
        c.check(t.wait_exit(30), 'q quits at once when no job runs')
    for user in ('user001', 'user002'):
        jobs.exactly_once(c, '%s migrated by the console\'s engine' % user, src, dst, user)


def pause_resume_and_quit(c, mf, src, dst):
    """Pause and resume during a real migration, then quit while one runs."""
    corpus.bulk(src, 'user003', 1500, folders=['INBOX', 'Archive'], sizes='small', seed=43)
    corpus.bulk(src, 'user004', 1500, folders=['INBOX'], sizes='small', seed=44)
    with proxy.Proxy(('127.0.0.1', src.port), delay_ms=150) as ps, \
            proxy.Proxy(('127.0.0.1', dst.port), delay_ms=150) as pd:
        mf.endpoint_add('src-slow', Via(src, ps))
        mf.endpoint_add('dst-slow', Via(dst, pd))
        r = mf.run('queue', 'src-slow', 'dst-slow', 'user003')
        c.check(r.rc == 0, 'a slow job queued', r)
        db = sqlite3.connect(mf.store)
        job = db.execute("SELECT max(id) FROM jobs").fetchone()[0]
        db.close()
        with term.Term(mf, 'console --workers 2', 110, 30) as t:
            ok, text = t.wait(lambda s: state_in_row(s, 'user003') == 'running' and jobs.job_state(mf, job)[1] > 0, 90)
            c.check(ok, 'job %d runs and has copied some messages' % job, text)
            t.keys('/')
            t.type('user003')
            t.keys('Enter', 'p')
            ok, text = t.wait(lambda s: 'paused' in s, 10)
            c.check(ok, 'p on the running job: the status line says it will pause', text)
            ok, text = t.wait(lambda s: state_in_row(s, 'user003') == 'paused', 60)
            state, done = jobs.job_state(mf, job)
            c.check(ok and state == 'paused' and 0 < done < 1500,
                    'the job stops at a checkpoint and shows paused (%s, %d of 1500 copied)' % (state, done), text)
            t.keys('u')
            ok, text = t.wait(lambda s: state_in_row(s, 'user003') in ('queued', 'running', 'completed'), 20)
            c.check(ok, 'u resumes it: back in the queue', text)
            ok, text = t.wait(lambda s: state_in_row(s, 'user003') == 'completed', 240)
            c.check(ok, 'the resumed job completes', text)
            t.keys('Escape')
            jobs.exactly_once(c, 'paused and resumed mid-copy', src, dst, 'user003')

            r = mf.run('queue', 'src-slow', 'dst-slow', 'user004')
            c.check(r.rc == 0, 'another slow job queued while the console runs', r)
            db = sqlite3.connect(mf.store)
            job = db.execute("SELECT max(id) FROM jobs").fetchone()[0]
            db.close()
            ok, text = t.wait(lambda s: jobs.job_state(mf, job)[0] == 'running' and jobs.job_state(mf, job)[1] > 0, 90)
            c.check(ok, 'job %d runs' % job, text)
            t.keys('q')
            ok, text = t.wait(lambda s: 'Jobs are running' in s and 'Pause the running jobs' in s, 10)
            c.check(ok, 'q while a job runs asks: pause them or keep them queued', text)
            t.keys('Enter')          # the default answer: keep them queued
            c.check(t.wait_exit(60), 'the console quits after the jobs stopped')
        state, done = jobs.job_state(mf, job)
        c.check(state == 'queued' and done < 1500,
                'keep queued: the stopped job is queued again with %d of 1500 copied (%s)' % (done, state))
        r = mf.run('run', timeout=600)
        c.check(r.rc == 0, 'mailferry run finishes it', r)
        jobs.exactly_once(c, 'stopped by quitting, finished by run', src, dst, 'user004')


def quit_pauses(c, mf, src, dst):
    """Quit choosing "pause": the running job ends paused, not queued."""
    corpus.bulk(src, 'user005', 1500, folders=['INBOX'], sizes='small', seed=45)
    with proxy.Proxy(('127.0.0.1', src.port), delay_ms=150) as ps, \
            proxy.Proxy(('127.0.0.1', dst.port), delay_ms=150) as pd:
        mf.run('endpoint', 'remove', 'src-slow')
        mf.run('endpoint', 'remove', 'dst-slow')
        mf.endpoint_add('src-slow', Via(src, ps))
        mf.endpoint_add('dst-slow', Via(dst, pd))
        r = mf.run('queue', 'src-slow', 'dst-slow', 'user005')
        db = sqlite3.connect(mf.store)
        job = db.execute("SELECT max(id) FROM jobs").fetchone()[0]
        db.close()
        with term.Term(mf, 'console --workers 1', 110, 30) as t:
            ok, text = t.wait(lambda s: jobs.job_state(mf, job)[0] == 'running' and jobs.job_state(mf, job)[1] > 0, 90)
            c.check(ok, 'job %d runs' % job, text)
            t.keys('q')
            ok, text = t.wait(lambda s: 'Pause the running jobs' in s, 10)
            t.keys('1')
            c.check(t.wait_exit(60), 'choosing 1 (pause) quits')
        state, done = jobs.job_state(mf, job)
        c.check(state == 'paused' and 0 < done < 1500, 'the job is paused with %d of 1500 copied (%s)' % (done, state))
        r = mf.run('resume', str(job))
        c.check(r.rc == 0, 'mailferry resume %d' % job, r)
        r = mf.run('run', timeout=600)
        c.check(r.rc == 0, 'mailferry run finishes it', r)
        jobs.exactly_once(c, 'paused by quitting, resumed from the CLI', src, dst, 'user005')


def job_actions(c, mf):
    """With the engine off the states stay put: cancel, retry, moves, select."""
    r = mf.run('queue', 'src', 'dst', 'user006', 'user007', 'user008')
    c.check(r.rc == 0, 'three more jobs queued', r)
    db = sqlite3.connect(mf.store)
    ids = [row[0] for row in db.execute("SELECT id FROM jobs WHERE state='queued' ORDER BY id")]
    db.close()
    last = ids[-1]
    with term.Term(mf, 'console --no-engine', 110, 30) as t:
        ok, text = t.wait(lambda s: 'user008' in s and 'engine off' in s, 20)
        c.check(ok, 'console --no-engine lists the queued jobs; engine off', text)
        t.keys('/')
        t.type('user008')
        t.keys('Enter')
        ok, text = t.wait(lambda s: '1 rows match' in s or 'rows match' in s, 10)
        t.keys('c')
        ok, text = t.wait(lambda s: 'Cancel job %d? (y/n)' % last in s, 10)
        c.check(ok, 'c asks before cancelling', text)
        t.keys('n')
        ok, text = t.wait(lambda s: 'nothing cancelled' in s, 10)
        c.check(ok, 'n leaves the job alone', text)
        t.keys('c', 'y')
        ok, text = t.wait(lambda s: 'job %d cancelled' % last in s and state_in_row(s, 'user008') == 'cancelled', 10)
        c.check(ok, 'y cancels: the row says cancelled', text)
        t.keys('c', 'y')
        ok, text = t.wait(lambda s: 'cannot be cancelled' in s or "can't be cancelled" in s or 'only' in s, 10)
        c.check(ok, 'cancelling it again is refused with the reason', text)
        t.keys('r')
        ok, text = t.wait(lambda s: 'job %d queued again' % last in s, 10)
        c.check(ok, 'r queues it again', text)
        t.keys('t')
        ok, text = t.wait(lambda s: 'job %d moved to the top' % last in s, 10)
        c.check(ok, 't moves it to the top', text)
        t.keys('Enter')
        ok, text = t.wait(lambda s: 'Job %d: user008 on src -> user008 on dst' % last in s and 'PASSES' in s and
                          'Verify verdict' in s and 'EVENTS' in s, 10)
        c.check(ok, 'Enter opens the job\'s detail: settings, passes, verdict, events', text)
        t.keys('q')
        ok, text = t.wait(lambda s: 'Mailbox Jobs: all jobs' in s, 10)
        c.check(ok, 'q backs out of the detail to Mailbox Jobs', text)
        t.keys('Escape')
        # Select two jobs with Space and pause both at once.
        t.keys('/', 'C-u')
        t.type('user006')
        t.keys('Enter', 'Space', '/', 'C-u')
        t.type('user007')
        t.keys('Enter', 'Space', '/', 'C-u', 'Enter')
        ok, text = t.wait(lambda s: 'user006' in s and 'user007' in s and 'user008' in s and '2 selected' not in s, 10)
        t.keys('p')
        ok, text = t.wait(lambda s: '2 jobs paused' in s and state_in_row(s, 'user006') == 'paused' and
                          state_in_row(s, 'user007') == 'paused' and state_in_row(s, 'user008') == 'queued', 10)
        c.check(ok, 'Space selects two jobs; p pauses exactly those two', text)
        t.keys('q')
        c.check(t.wait_exit(20), 'q quits')
    db = sqlite3.connect(mf.store)
    order = [row[0] for row in db.execute(
        "SELECT id FROM jobs WHERE state='queued' ORDER BY priority, pos")]
    paused = [row[0] for row in db.execute("SELECT id FROM jobs WHERE state='paused' ORDER BY id")]
    db.close()
    c.check(order[:1] == [last] and paused == ids[:2],
            'the store agrees: job %d first in the queue, %s paused (%s, %s)' % (last, ids[:2], order, paused))


def colours(c, mf):
    """Colours by default; NO_COLOR gives attributes only (bold, reverse)."""
    colour = re.compile(r'\x1b\[[0-9;]*(3[0-7]|4[0-7]|38;5;\d+|48;5;\d+)[;m]')
    with term.Term(mf, 'console --no-engine', 100, 30) as t:
        ok, _ = t.wait(lambda s: 'Mailbox Jobs' in s, 20)
        raw = t.screen_with_attributes()
        c.check(ok and colour.search(raw), 'the console uses colours on a colour terminal', raw[:400])
        t.keys('q')
        t.wait_exit(20)
    with term.Term(mf, 'console --no-engine', 100, 30, env={'NO_COLOR': '1'}) as t:
        ok, _ = t.wait(lambda s: 'Mailbox Jobs' in s, 20)
        raw = t.screen_with_attributes()
        c.check(ok and not colour.search(raw) and re.search(r'\x1b\[[0-9;]*7m', raw),
                'NO_COLOR: no colour, reverse video for the bars', raw[:400])
        t.keys('q')
        t.wait_exit(20)


def mouse(c, mf):
    """Clicks (xterm's SGR mouse reports, typed into the terminal): the
    toolbar opens a view; a double click on a row opens it."""
    def click(t, x, y, times=1):
        for _ in range(times):
            for end in 'Mm':
                t.tmux('send-keys', '-t', 'mf', '-l', '\x1b[<0;%d;%d%s' % (x + 1, y + 1, end))
                time.sleep(0.02)
    with term.Term(mf, 'console --no-engine', 110, 30, env={'TERM': 'xterm'}) as t:
        ok, text = t.wait(lambda s: '3 Mailbox Jobs' in s and 'user002' in s, 20)
        top = text.split('\n')[0]
        click(t, top.index('5 Sum') + 1, 0)
        ok, text = t.wait(lambda s: 'Summary of the project' in s, 10)
        c.check(ok, 'a click on "5 Sum" in the toolbar opens the Summary', text)
        click(t, t.line(0).index('3 ') + 1, 0)
        ok, text = t.wait(lambda s: 'Mailbox Jobs: all jobs' in s, 10)
        rows = text.split('\n')
        y = next(i for i, l in enumerate(rows) if 'user002 (src' in l)
        click(t, 10, y, times=2)
        ok, text = t.wait(lambda s: 'Job 2: user002 on src' in s, 10)
        c.check(ok, 'a double click on the user002 row opens its detail', text)
        t.keys('q', 'q')
        t.wait_exit(20)


def keys_documented(c, mf):
    """Every ':' command of the key table is in the manual."""
    r = mf.run('console', '--keys')
    names = re.findall(r'^\S+\s+:(\S+)', r.text, re.M)
    with open(os.path.join(os.environ.get('MF_SRCDIR', '.'), 'data', 'mailferry.1')) as f:
        man = f.read().replace('\\-', '-')
    missing = [n for n in names if ':' + n not in man and n not in ('forests', 'mailboxes')]
    c.check(r.rc == 0 and len(names) > 30 and not missing,
            'console --keys lists %d commands, all in the manual (missing: %s)' % (len(names), missing), r)


def main(c):
    fixtures.require()
    term.require()
    mf = cli.Mailferry()
    try:
        with fixtures.pair(checks=c) as (src, dst):
            keys_documented(c, mf)
            views_and_live_progress(c, mf, src, dst)
            colours(c, mf)
            mouse(c, mf)
            job_actions(c, mf)
            pause_resume_and_quit(c, mf, src, dst)
            quit_pauses(c, mf, src, dst)
    finally:
        mf.cleanup()


if __name__ == '__main__':
    report.main(main, 'test_console')
