#!/usr/bin/python3
"""Namespace prefixes: a source whose personal namespace is "INBOX." (folders
"INBOX.Projects", as Courier and Cyrus servers show them) migrates to a target
without a prefix, so that "INBOX.Projects.2024" arrives as "Projects/2024"; and
the other way round, a target with the "INBOX." prefix receives "a/b" as
"INBOX.a.b".  Special-use folders are paired across the prefixes.

Run: MAILFERRY=./mailferry python3 tests/test_namespace.py   (exit 0 pass, 77 skip, 1 fail)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, fixtures, imapcheck, report                 # noqa: E402
from mftest.dovecot import Dovecot                                  # noqa: E402
from mftest.corpus import bulk_messages                             # noqa: E402

# Dovecot names the mailboxes of a namespace section without the prefix.
PREFIXED_SPECIAL = {'Sent Items': r'\Sent', 'Deleted Items': r'\Trash'}
PLAIN_SPECIAL = {'Sent': r'\Sent', 'Trash': r'\Trash'}


def fill(server, user, folders, per_folder=3, seed=7):
    conn = imapcheck.connect(server, user)
    try:
        msgs = list(bulk_messages(per_folder * len(folders), seed=seed, sizes='small'))
        for i, f in enumerate(folders):
            if f.upper() != 'INBOX':
                try:
                    imapcheck.create_folder(conn, f)
                except imapcheck.IMAPError:
                    pass   # special-use folders exist already
            for raw, flags, date in msgs[i * per_folder:(i + 1) * per_folder]:
                imapcheck.append_raw(conn, f, raw, flags, date)
    finally:
        imapcheck.logout(conn)


def folder_counts(server, user):
    t = imapcheck.read_user_tree(server, user, keep_bodies=False)
    return {name: len(f.messages) for name, f in t.folders.items() if f.selectable}


def main(c):
    fixtures.require()
    mf = cli.Mailferry()
    try:
        with Dovecot(name='pfx', layout='maildir++', prefix='INBOX.', special=PREFIXED_SPECIAL) as pfx, \
                Dovecot(name='plain', layout='fs', special=PLAIN_SPECIAL) as plain:
            mf.endpoint_add('pfx', pfx)
            mf.endpoint_add('plain', plain)

            # prefixed source -> plain target
            fill(pfx, 'user001', ['INBOX', 'INBOX.Projects', 'INBOX.Projects.2024', 'INBOX.Sent Items'])
            r = mf.run('migrate', 'pfx', 'plain', 'user001')
            c.check(r.rc == 0, 'prefixed source -> plain target: exit %s' % r.rc, r)
            got = folder_counts(plain, 'user001')
            want = {'INBOX': 3, 'Projects': 3, 'Projects/2024': 3, 'Sent': 3}
            c.check(all(got.get(k) == v for k, v in want.items()),
                    'prefix "INBOX." stripped, hierarchy and \\Sent mapped: %s' % got)
            c.check(not any(k.startswith('INBOX/') for k in got),
                    'no "INBOX/..." folders created on the target: %s' % sorted(got))
            r = mf.run('verify', 'pfx', 'plain', 'user001')
            c.check(fixtures.verdict(r.text) == (0, 0, 0), 'verify: 0 missing, 0 extra, 0 differ', r)

            # plain source -> prefixed target
            fill(plain, 'user002', ['INBOX', 'a', 'a/b', 'Sent'], seed=8)
            r = mf.run('migrate', 'plain', 'pfx', 'user002')
            c.check(r.rc == 0, 'plain source -> prefixed target: exit %s' % r.rc, r)
            got = folder_counts(pfx, 'user002')
            want = {'INBOX': 3, 'INBOX.a': 3, 'INBOX.a.b': 3, 'INBOX.Sent Items': 3}
            c.check(all(got.get(k) == v for k, v in want.items()),
                    'target prefix "INBOX." added, \\Sent mapped to "INBOX.Sent Items": %s' % got)
            r = mf.run('migrate', 'plain', 'pfx', 'user002')
            c.check(r.rc == 0 and fixtures.says_copied(r.text, 0), 'second run copies nothing', r)
    finally:
        mf.cleanup()


if __name__ == '__main__':
    report.main(main, 'test_namespace')
