#!/usr/bin/python3
"""Bounded memory: copying a 40 MB message must not cost 40 MB of heap.

Two 40 MB messages and some small ones are migrated with `migrate`; the peak
resident set size of the mailferry process (from wait4's rusage) must stay
well below the size of one message, and the copies must be byte-identical.

Run: MAILFERRY=./mailferry python3 tests/test_memory.py   (exit 0 pass, 77 skip, 1 fail)
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, corpus, fixtures, imapcheck, report       # noqa: E402

BIG = 40 * 1000 * 1000
# Sanitizer builds carry shadow memory and quarantine: allow them more.
LIMIT_MB = 160 if os.environ.get('ASAN_OPTIONS') else 32


def main(c):
    fixtures.require()
    mf = cli.Mailferry()
    try:
        with fixtures.pair(checks=c) as (src, dst):
            gen = corpus.Gen(11)
            conn = imapcheck.connect(src, 'user001')
            try:
                for i in range(2):
                    m = corpus.sized_message(gen, 'Big %d' % i, BIG)
                    imapcheck.append_raw(conn, 'INBOX', m.raw, m.flags, m.internaldate)
                for raw, flags, date in corpus.bulk_messages(50, seed=12, sizes='small'):
                    imapcheck.append_raw(conn, 'INBOX', raw, flags, date)
            finally:
                imapcheck.logout(conn)
            mf.endpoint_add('src', src)
            mf.endpoint_add('dst', dst)
            argv = mf.argv(['migrate', 'src', 'dst', 'user001'])
            p = subprocess.Popen(argv, env=mf.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = p.communicate(timeout=600)
            rc = p.returncode
            c.check(rc == 0, 'migrate of two 40 MB messages: exit %s' % rc, err.decode(errors='replace'))
            r = mf.run('verify', 'src', 'dst', 'user001', '--deep', timeout=600)
            vout = r.text
            c.check(fixtures.verdict(vout) == (0, 0, 0), 'verify --deep: 0 missing, 0 extra, 0 differ', vout)
            diff = imapcheck.compare(imapcheck.read_user_tree(src, 'user001'),
                                     imapcheck.read_user_tree(dst, 'user001'))
            c.check(diff.ok, 'byte-identical copies: %s' % diff.verdict(), diff.report())
            peak = peak_rss_of_migrate(mf, src, dst, c)
            c.check(0 < peak < LIMIT_MB * 1024,
                    'peak RSS of migrate copying 40 MB messages: %.1f MiB (limit %d MiB)'
                    % (peak / 1024, LIMIT_MB))
    finally:
        mf.cleanup()


# ru_maxrss is a high-water mark that survives exec: a child forked from this
# test process (which holds the 40 MB messages) would report our size.  A
# small fresh interpreter starts mailferry and reports its child's peak.
MEASURE = """
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(p.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss_of_migrate(mf, src, dst, c):
    """Copies the same mailbox to a fresh target user and returns the
    mailferry process's peak RSS in KiB."""
    argv = mf.argv(['migrate', 'src', 'dst', 'user001=user002'])
    r = subprocess.run([sys.executable, '-c', MEASURE] + argv, env=mf.env(), capture_output=True,
                       text=True, timeout=600)
    rc, peak = (int(x) for x in r.stdout.split())
    c.check(rc == 0, 'second migrate (for the measurement): exit %s' % rc, r.stderr)
    return peak


if __name__ == '__main__':
    report.main(main, 'test_memory')
