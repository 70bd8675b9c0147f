#!/usr/bin/python3
"""The console (ui/console.c), driven like a person would: it runs inside a
real terminal (tmux, read back with capture-pane) while its engine thread
migrates queued mailboxes between the test Dovecot servers.  Checks the
toolbar, the Mailbox Jobs view updating live to "completed", the Event log
and Help views (switched with keys), a resize to 80x24, and a clean quit;
then the target holds every message.

Run: MAILFERRY=./mailferry python3 tests/test_console.py   (exit 0 pass, 77 skip, 1 fail)
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, corpus, fixtures, imapcheck, report          # noqa: E402

TMUX = shutil.which('tmux')


def tmux(sock, *args, check=True):
    return subprocess.run([TMUX, '-L', sock, '-f', '/dev/null'] + list(args),
                          capture_output=True, text=True, check=check)


def screen(sock):
    return tmux(sock, 'capture-pane', '-p', '-t', 'mf', check=False).stdout


def wait_for(sock, pred, timeout=60.0):
    """Polls the screen until pred(text) holds; returns (ok, last screen)."""
    deadline = time.monotonic() + timeout
    text = ''
    while time.monotonic() < deadline:
        text = screen(sock)
        if pred(text):
            return True, text
        time.sleep(0.2)
    return False, text


def main(c):
    fixtures.require()
    if not TMUX:
        print('SKIP: tmux is not installed')
        sys.exit(77)
    mf = cli.Mailferry()
    sock = 'mftest%d' % os.getpid()
    try:
        with fixtures.pair(checks=c) as (src, dst):
            corpus.bulk(src, 'user001', 60, folders=['Projects', 'Projects/2024'], sizes='small', seed=41)
            corpus.bulk(src, 'user002', 20, folders=['INBOX'], sizes='small', seed=42)
            mf.endpoint_add('src', src)
            mf.endpoint_add('dst', dst)
            r = mf.run('queue', 'src', 'dst', 'user001', 'user002')
            c.check(r.rc == 0, 'two jobs queued', r)
            # A wrapper keeps the test's environment (HOME, XDG_*) for the console.
            wrapper = os.path.join(mf.dir, 'console.sh')
            with open(wrapper, 'w') as f:
                for k, v in mf.env().items():
                    if k.isidentifier():
                        f.write('export %s=%s\n' % (k, shlex.quote(v)))
                f.write('exec %s console --workers 2\n' % ' '.join(map(shlex.quote, mf.argv([]))))
            tmux(sock, 'new-session', '-d', '-s', 'mf', '-x', '110', '-y', '30', 'sh ' + shlex.quote(wrapper))
            ok, text = wait_for(sock, lambda t: '1 Mailbox Jobs' in t and '? Help' in t, 20)
            c.check(ok, 'console starts with its toolbar', text)
            ok, text = wait_for(sock, lambda t: t.count('completed ') >= 2 or t.count('completed') >= 3, 90)
            c.check(ok, 'Mailbox Jobs shows both jobs completed, live', text)
            c.check('user001' in text and 'user002' in text and 'engine' in text,
                    'jobs list names the mailboxes; status bar shows the engine', text)
            tmux(sock, 'send-keys', '-t', 'mf', '2')
            ok, text = wait_for(sock, lambda t: 'TIME     LEVEL' in t and 'pass finished' in t, 15)
            c.check(ok, 'key 2 opens the Event log with the passes', text)
            tmux(sock, 'send-keys', '-t', 'mf', '3')
            ok, text = wait_for(sock, lambda t: 'Summary of all jobs' in t and
                                re.search(r'completed\s+2\b', t) and re.search(r'Messages copied\s+80\b', t), 15)
            c.check(ok, 'key 3 opens the Summary: 2 jobs completed, 80 messages copied', text)
            tmux(sock, 'send-keys', '-t', 'mf', '4')
            ok, text = wait_for(sock, lambda t: 'MESSAGES/MIN' in t and '#' in t and
                                sum(map(int, re.findall(r'(\d+) msg/min', t))) == 80, 15)
            c.check(ok, 'key 4 opens Metrics: bars per minute adding up to the 80 messages', text)
            tmux(sock, 'send-keys', '-t', 'mf', '?')
            ok, text = wait_for(sock, lambda t: 'Keys (the same in every view)' in t and 'Event log' in t, 15)
            c.check(ok, '? opens Help, written from the key table', text)
            tmux(sock, 'resize-window', '-t', 'mf', '-x', '80', '-y', '24', check=False)
            tmux(sock, 'send-keys', '-t', 'mf', '1')
            ok, text = wait_for(sock, lambda t: '1 Mailbox Jobs' in t and len(t.splitlines()[0]) <= 80, 15)
            c.check(ok, 'resized to 80x24: toolbar and jobs still drawn', text)
            tmux(sock, 'send-keys', '-t', 'mf', 'q')
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and tmux(sock, 'has-session', '-t', 'mf', check=False).returncode == 0:
                time.sleep(0.2)
            c.check(tmux(sock, 'has-session', '-t', 'mf', check=False).returncode != 0, 'q quits the console')
            # Job actions, with the engine off so that the states stay put.
            r = mf.run('queue', 'src', 'dst', 'user003', 'user004', 'user005')
            c.check(r.rc == 0, 'three more jobs queued', r)
            with open(wrapper) as f:
                script = f.read().replace('console --workers 2', 'console --no-engine')
            with open(wrapper, 'w') as f:
                f.write(script)
            tmux(sock, 'new-session', '-d', '-s', 'mf', '-x', '110', '-y', '30', 'sh ' + shlex.quote(wrapper))
            ok, text = wait_for(sock, lambda t: 'user005' in t and 'engine off' in t, 20)
            c.check(ok, 'console --no-engine lists the queued jobs; engine off', text)
            for _ in range(4):                                 # down to job 5 (user005)
                tmux(sock, 'send-keys', '-t', 'mf', 'j')
            tmux(sock, 'send-keys', '-t', 'mf', 'c')
            ok, text = wait_for(sock, lambda t: 'cancel job 5? y/n' in t, 10)
            c.check(ok, 'c asks before cancelling', text)
            tmux(sock, 'send-keys', '-t', 'mf', 'n')
            ok, text = wait_for(sock, lambda t: 'job 5 left as it was' in t, 10)
            c.check(ok, 'n leaves the job alone', text)
            tmux(sock, 'send-keys', '-t', 'mf', 'c')
            tmux(sock, 'send-keys', '-t', 'mf', 'y')
            ok, text = wait_for(sock, lambda t: 'job 5 cancelled' in t and 'cancelled  full' in t, 10)
            c.check(ok, 'y cancels: the row says cancelled', text)
            tmux(sock, 'send-keys', '-t', 'mf', 'c')
            tmux(sock, 'send-keys', '-t', 'mf', 'y')
            ok, text = wait_for(sock, lambda t: 'cannot be cancelled' in t, 10)
            c.check(ok, 'cancelling it again is refused with the reason', text)
            tmux(sock, 'send-keys', '-t', 'mf', 'r')
            ok, text = wait_for(sock, lambda t: 'job 5 queued again' in t, 10)
            c.check(ok, 'r queues it again', text)
            tmux(sock, 'send-keys', '-t', 'mf', 't')
            ok, text = wait_for(sock, lambda t: 'job 5 moved to the top' in t, 10)
            c.check(ok, 't moves it to the top', text)
            tmux(sock, 'send-keys', '-t', 'mf', 'q')
            time.sleep(1)
            import sqlite3
            db = sqlite3.connect(mf.store)
            order = [row[0] for row in db.execute(
                "SELECT id FROM jobs WHERE state='queued' ORDER BY priority, id")]
            db.close()
            c.check(order[:1] == [5] and sorted(order) == [3, 4, 5],
                    'the store agrees: job 5 first in the queue (%s)' % order)
            for user in ('user001', 'user002'):
                diff = imapcheck.compare(imapcheck.read_user_tree(src, user),
                                         imapcheck.read_user_tree(dst, user))
                c.check(diff.ok, '%s migrated by the console\'s engine: %s' % (user, diff.verdict()),
                        diff.report())
    finally:
        tmux(sock, 'kill-server', check=False)
        mf.cleanup()


if __name__ == '__main__':
    report.main(main, 'test_console')
