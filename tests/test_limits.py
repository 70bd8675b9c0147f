#!/usr/bin/python3
"""A target that enforces a size limit without announcing it (no
APPENDLIMIT): the oversize message is only refused when it arrives, between
MULTIAPPEND batches of small messages.  Every other message must be copied,
and exactly the oversize one reported as skipped, with folder, subject and
size.

Run: MAILFERRY=./mailferry python3 tests/test_limits.py   (exit 0 pass, 77 skip, 1 fail)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, corpus, fixtures, imapcheck, report          # noqa: E402
from mftest.dovecot import Dovecot, SOURCE_SPECIAL, TARGET_SPECIAL   # noqa: E402

LIMIT = 1 << 20


def main(c):
    fixtures.require()
    mf = cli.Mailferry()
    try:
        with Dovecot(name='limsrc', layout='fs', special=SOURCE_SPECIAL) as src, \
                Dovecot(name='limdst', special=TARGET_SPECIAL, max_mail_size=LIMIT,
                        advertise_limit=False) as dst:
            conn = imapcheck.connect(dst, 'user001')
            try:
                have = set(imapcheck.capabilities(conn))
            finally:
                imapcheck.logout(conn)
            c.check(not any(x.startswith('APPENDLIMIT') for x in have) and 'MULTIAPPEND' in have,
                    'target enforces a limit it does not announce, and offers MULTIAPPEND')
            gen = corpus.Gen(31)
            msgs = list(corpus.bulk_messages(40, seed=32, sizes='small'))
            big = corpus.sized_message(gen, 'Too big for the target', 2 * LIMIT)
            conn = imapcheck.connect(src, 'user001')
            try:
                for raw, flags, date in msgs[:20]:
                    imapcheck.append_raw(conn, 'INBOX', raw, flags, date)
                imapcheck.append_raw(conn, 'INBOX', big.raw, big.flags, big.internaldate)
                for raw, flags, date in msgs[20:]:
                    imapcheck.append_raw(conn, 'INBOX', raw, flags, date)
            finally:
                imapcheck.logout(conn)
            mf.endpoint_add('src', src)
            mf.endpoint_add('dst', dst)
            r = mf.run('migrate', 'src', 'dst', 'user001')
            c.check(r.rc == 1, 'migrate: exit 1 (done, one item skipped): exit %s' % r.rc, r)
            c.check(fixtures.says_copied(r.text, 40), 'the 40 other messages were copied', r)
            s = imapcheck.read_user_tree(src, 'user001')
            d = imapcheck.read_user_tree(dst, 'user001')
            diff = imapcheck.compare(s, d, ignore={big.sha})
            c.check(diff.ok and diff.ignored == 1, 'target holds every other message, byte-identical: %s'
                    % diff.verdict(), diff.report())
            r = mf.run('skipped')
            lines = [l for l in r.out.splitlines() if l.strip()]
            c.check(len(lines) == 1 and 'Too big for the target' in lines[0] and 'INBOX' in lines[0],
                    'skipped lists exactly the oversize message with folder and subject', r)
            r = mf.run('verify', 'src', 'dst', 'user001')
            v = fixtures.verdict(r.text)
            c.check(v == (0, 0, 0), 'verify: 0 missing, 0 extra, 0 differ (the skipped one apart)', r)
    finally:
        mf.cleanup()


if __name__ == '__main__':
    report.main(main, 'test_limits')
