"""What the tests read about jobs and their mailboxes: rows of the store,
read-only while the engine writes it (as the console reads them), and
whether a mailbox arrived exactly once, or in part with nothing twice.

    jobs.job_state(mf, 1) -> ('running', 120)
    jobs.exactly_once(c, 'after resume', src, dst, 'user001')
"""

import sqlite3

from . import imapcheck


def store_rows(path, sql, *args):
    """All rows of sql (args bound) from the store at path, opened read-only."""
    con = sqlite3.connect('file:%s?mode=ro' % path, uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def query(mf, sql, *args):
    """store_rows of mf's store."""
    return store_rows(mf.store, sql, *args)


def job_state(mf, jid):
    """(state, items_done) of a job; (None, 0) when there is no such job."""
    rows = query(mf, 'SELECT state, items_done FROM jobs WHERE id=?', jid)
    return rows[0] if rows else (None, 0)


def _compare(src, dst, user, duser):
    s = imapcheck.read_user_tree(src, user, keep_bodies=False)
    d = imapcheck.read_user_tree(dst, duser or user, keep_bodies=False)
    return s, d, imapcheck.compare(s, d)


def exactly_once(c, what, src, dst, user, duser=None):
    """Checks that every message of user on src is on dst (as duser, by
    default the same login) exactly once; returns the source's count."""
    s, _, diff = _compare(src, dst, user, duser)
    c.check(diff.ok and diff.duplicates == 0, '%s: every message of %s exactly once (%s)'
            % (what, user, diff.verdict()), diff.report())
    return s.count()


def partly_copied(c, src, dst, user):
    """Checks that dst holds some but not all of user's messages, none twice
    and none the source lacks: a job stopped at a checkpoint mid-copy."""
    s, d, diff = _compare(src, dst, user, None)
    c.check(0 < d.count() < s.count() and diff.duplicates == 0 and diff.extra == 0,
            'target holds part of the mailbox (%d of %d), nothing twice' % (d.count(), s.count()),
            diff.report())
