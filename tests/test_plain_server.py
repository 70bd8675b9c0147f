#!/usr/bin/python3
"""Fallbacks of the IMAP driver (src/drv_imap.c) for plain IMAP servers: a
target that offers no LITERAL+, UIDPLUS, CONDSTORE or APPENDLIMIT (every
APPEND then waits for the server's "+" before its data), and a source that
offers no LIST-EXTENDED, SPECIAL-USE, NAMESPACE or CONDSTORE (folders from
LIST and LSUB).  The copy must still be
complete and byte-identical, a second run must copy nothing, and a delta must
pick up new mail.

Run: MAILFERRY=./mailferry python3 tests/test_plain_server.py   (exit 0 pass, 77 skip, 1 fail)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, corpus, fixtures, imapcheck, report          # noqa: E402
from mftest.dovecot import Dovecot, SOURCE_SPECIAL, TARGET_SPECIAL   # noqa: E402

# What the servers say they can do after login (Dovecot replaces its list).
PLAIN_CAPS = 'imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE'


def caps(server):
    conn = imapcheck.connect(server, 'user001')
    try:
        return set(imapcheck.capabilities(conn))
    finally:
        imapcheck.logout(conn)


def main(c):
    fixtures.require()
    mf = cli.Mailferry()
    try:
        with Dovecot(name='plainsrc', layout='fs', special=SOURCE_SPECIAL, extra_conf=PLAIN_CAPS) as src, \
                Dovecot(name='plaindst', special=TARGET_SPECIAL, extra_conf=PLAIN_CAPS) as dst:
            have = caps(dst) | caps(src)
            c.check(not have & {'LITERAL+', 'UIDPLUS', 'CONDSTORE', 'LIST-EXTENDED', 'SPECIAL-USE'},
                    'servers advertise none of the extensions: %s' % sorted(have))
            man = corpus.fill(src, 'user001', seed=21, target_sep=dst.separator, big=False)
            mf.endpoint_add('src', src)
            mf.endpoint_add('dst', dst)
            r = mf.run('migrate', 'src', 'dst', 'user001', timeout=300)
            c.check(r.rc == 0, 'migrate to a server without LITERAL+/UIDPLUS: exit %s' % r.rc, r)
            s = imapcheck.read_user_tree(src, 'user001')
            d = imapcheck.read_user_tree(dst, 'user001')
            # Dovecot still shows \Sent etc. in a plain LIST, so special-use
            # folders pair up as usual (the default mapping of the checks).
            diff = imapcheck.compare(s, d)
            c.check(diff.ok, 'all %d messages byte-identical with flags and dates: %s'
                    % (man.total(), diff.verdict()), diff.report())
            r = mf.run('migrate', 'src', 'dst', 'user001', timeout=300)
            c.check(r.rc == 0 and fixtures.says_copied(r.text, 0), 'second run copies nothing', r)
            corpus.add_messages(src, 'user001', 'INBOX', 4, seed=22)
            r = mf.run('migrate', 'src', 'dst', 'user001', '--pass', 'delta', timeout=300)
            c.check(r.rc == 0 and fixtures.says_copied(r.text, 4), 'delta copies the 4 new messages', r)
            r = mf.run('verify', 'src', 'dst', 'user001', '--deep')
            c.check(fixtures.verdict(r.text) == (0, 0, 0), 'verify --deep: 0 missing, 0 extra, 0 differ', r)
    finally:
        mf.cleanup()


if __name__ == '__main__':
    report.main(main, 'test_plain_server')
