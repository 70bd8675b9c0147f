#!/usr/bin/python3
"""Key-to-screen latency of the console, idle and while 20 mailboxes migrate.

    make bench-console      (runs console_bench, then this)
    PYTHONPATH=tests MAILFERRY=./mailferry python3 tests/bench/console_latency.py

Two Dovecot servers on 127.0.0.1; 20 mailboxes of 4000 small messages on the
source.  The console runs in tmux with MAILFERRY_LATENCY_LOG set: for every
key it records the time from reading the key to the next frame drawn.  The
same 150 keys (moves, view switches, a search) are typed twice at 10 keys a
second: once with the engine off (idle) and once with `--workers 20` while
the 20 mailboxes migrate.  Prints median, 95th percentile and worst of both.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from mftest import cli, corpus, fixtures, term        # noqa: E402

USERS = ['user%03d' % i for i in range(1, 21)]
KEYS = (['j', 'j', 'k', '9', '3', 'j', 'G', 'g', '5', '3'] * 14 + ['/', 'u', 's', 'e', 'r', 'Enter',
                                                                   'Escape', 'Home', '3', 'j'])


def _keys_quiet(t):
    """send-keys that does not raise once the console has exited."""
    def keys(*ks):
        for k in ks:
            t.tmux('send-keys', '-t', 'mf', k, check=False)
    return keys


def run(mf, args, label):
    log = os.path.join(mf.dir, 'latency-%s.txt' % label)
    with term.Term(mf, args, 120, 40, env={'MAILFERRY_LATENCY_LOG': log}) as t:
        t.keys = _keys_quiet(t)
        t.wait(lambda s: 'Mailbox Jobs' in s, 20)
        if 'no-engine' not in args:
            t.wait(lambda s: s.count(' running ') >= 10, 60)
        before = t.screen().count(' running ')
        for k in KEYS:
            t.keys(k)
            time.sleep(0.1)
        busy = t.screen().count(' running ')
        t.keys('q')
        if t.wait(lambda s: 'Jobs are running' in s or not s.strip(), 5)[0] and t.alive():
            t.keys('Enter')
        t.wait_exit(120)
    with open(log) as f:
        fields = f.read().split()
    d = dict(zip(fields[0::2], fields[1::2]))
    print('  %-50s keys %4s  median %6s ms  p95 %6s ms  worst %6s ms' % (
        label + (' (%d..%d running)' % (before, busy) if before else ''), d.get('keys'), d.get('median_ms'),
        d.get('p95_ms'), d.get('max_ms')))
    return d


def main():
    fixtures.require()
    if not term.TMUX:
        print('SKIP: tmux is not installed')
        return 77
    mf = cli.Mailferry()
    try:
        with fixtures.pair(users=USERS) as (src, dst):
            for i, u in enumerate(USERS):
                corpus.bulk(src, u, 4000, folders=['INBOX', 'Archive'], sizes='small', seed=100 + i)
            mf.endpoint_add('src', src, extra=['--max-connections', '64'])
            mf.endpoint_add('dst', dst, extra=['--max-connections', '64'])
            mf.run('queue', 'src', 'dst', *USERS)
            print('console key-to-screen latency, %d keys at 10 per second:' % len(KEYS))
            run(mf, 'console --no-engine', 'idle (engine off, 20 jobs queued)')
            run(mf, 'console --workers 20', 'while 20 mailboxes migrate')
    finally:
        mf.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
