"""Shared set-up for the integration test scripts.

    from mftest import fixtures
    binary = fixtures.require()                 # exit 77 / 1 as documented in cli.py
    with fixtures.pair(size_limit=LIMIT) as (src, dst):
        ...

The standard pair: source Dovecot with LAYOUT=fs (separator '/', special-use
folders "Sent Items", "Drafts", "Deleted Items", "Junk E-mail", "Archive") and
target Dovecot with the default maildir++ layout (separator '.', special-use
folders "Sent", "Drafts", "Trash", "Junk", "Archives").  This direction lets the
source hold a folder whose name contains the target's separator ("v1.2") without
any plugin; the reverse direction would need listescape on the source.
"""

import contextlib
import re
import sys

from . import cli, report
from .dovecot import Dovecot, SOURCE_SPECIAL, TARGET_SPECIAL, have_dovecot

USERS = 100


def require():
    """Skips (77) without a binary (when MAILFERRY is unset) or without Dovecot
    (a failure instead when MFTEST_REQUIRE_DOVECOT=1, e.g. in CI)."""
    path = cli.require_binary()
    report.need(have_dovecot(), 'dovecot', 'apt-get install dovecot-imapd')
    return path


def run_on_pair(c, fn, **pair_args):
    """The usual main of a test: require, a fresh Mailferry and the standard
    pair (pair_args as pair() takes them), fn(c, mf, src, dst), clean-up."""
    require()
    mf = cli.Mailferry()
    try:
        with pair(checks=c, **pair_args) as (src, dst):
            fn(c, mf, src, dst)
    finally:
        mf.cleanup()


@contextlib.contextmanager
def pair(size_limit=None, users=USERS, imaps=False, tmpfs=False, checks=None, src_conf=''):
    """The standard source/target pair.  With checks (a report.Checks), the
    Dovecot log tails are printed at the end if any check failed.  src_conf is
    appended to the source's dovecot.conf (e.g. ACL_CONF)."""
    with Dovecot(name='src', layout='fs', special=SOURCE_SPECIAL, users=users,
                 imaps=imaps, tmpfs=tmpfs, extra_conf=src_conf) as src, \
            Dovecot(name='dst', layout='maildir++', special=TARGET_SPECIAL, users=users,
                    max_mail_size=size_limit, tmpfs=tmpfs) as dst:
        try:
            yield src, dst
        finally:
            if checks is not None and checks.failed:
                src.print_log_tail(25, file=sys.stdout)
                dst.print_log_tail(25, file=sys.stdout)


# Dovecot's ACL plugin with the IMAP ACL commands (RFC 4314).  acl_user = %u:
# the master user (the admin acting for a user) is checked as that user, so
# it reads and sets the user's ACLs as the owner (without it a master user
# gets no rights at all on the user's folders).  The tests speak only IMAP, so
# the plugins are loaded there (a global mail_plugins after the protocol
# section would not reach it).  Dovecot refuses SETACL for "anyone" and
# "authenticated"; such entries can be written into the folder's dovecot-acl
# file (Dovecot.maildir(user) for INBOX) instead.
ACL_CONF = """\
protocol imap {
  mail_plugins = $mail_plugins acl imap_acl
}
plugin {
  acl = vfile
  acl_user = %u
}
"""


COPIED_RE = [
    # "0 copied", "0 messages copied", "copied 0", "copied: 0", "copied=0"
    r'\b(\d+)\s+(?:messages?\s+|items?\s+|new\s+)?copied\b',
    r'\bcopied\s*[:=]?\s*(\d+)\b',
]


def copied_counts(text):
    """Numbers the output gives as 'copied' (all of them, in order)."""
    out = []
    for rx in COPIED_RE:
        out += [int(x) for x in re.findall(rx, text, re.I)]
    return out


def says_copied(text, n):
    return n in copied_counts(text)


VERDICT_RE = re.compile(r'(\d+)\s+missing,\s*(\d+)\s+extra,\s*(\d+)\s+differ', re.I)


def verdict(text):
    """(missing, extra, differ) from a verify verdict line, or None."""
    m = VERDICT_RE.search(text)
    return tuple(int(x) for x in m.groups()) if m else None


_UNITS = {'': 1, 'b': 1, 'bytes': 1, 'byte': 1, 'k': 1000, 'kb': 1000, 'kib': 1024,
          'm': 1e6, 'mb': 1e6, 'mib': 1 << 20, 'g': 1e9, 'gb': 1e9, 'gib': 1 << 30}


def size_mentioned(text, size, tolerance=0.02):
    """True if text gives `size` bytes exactly or as a rounded human figure
    (e.g. 33604525, 33,604,525, 32.0 MiB, 33.6 MB, 32817 KiB)."""
    if str(size) in text.replace(',', '').replace('_', ''):
        return True
    for num, unit in re.findall(r'(\d+(?:[.,]\d+)?)\s*([KMG]i?B?|bytes?|B)?\b', text, re.I):
        try:
            v = float(num.replace(',', '.')) * _UNITS.get((unit or '').lower(), 1)
        except ValueError:
            continue
        if unit and abs(v - size) <= size * tolerance:
            return True
    return False


def one_line_error(r):
    """The documented 'clear one-line error': exactly one non-empty stderr line."""
    return len(r.err_lines()) == 1


__all__ = ['require', 'pair', 'ACL_CONF', 'copied_counts', 'says_copied', 'verdict', 'size_mentioned',
           'one_line_error', 'report', 'SOURCE_SPECIAL', 'TARGET_SPECIAL', 'Dovecot']
