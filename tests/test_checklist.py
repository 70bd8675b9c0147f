#!/usr/bin/python3
"""forest checklist NAME (src/checklist.c) against real servers: two Dovecot
instances with TLS (source and target), a slapd holding the source's
directory, and an aiosmtpd for the notification server.

- before there is a target forest: [✗] forests, exit 78;
- a good setup: every item passes or is to be checked by hand (no [!], no
  [✗]), exit 0; the directory, both admins, a user's mailbox on each side,
  the password files' modes, the notification server are [✓];
- broken one thing at a time, the right item fails with its fix, and the
  items after it say they were not checked: a wrong admin password (fix names
  the password file), an admin without the right to act for users (login
  passes, the mailbox fails), a password file readable by others (chmod 600),
  a wrong bind password (directory-read), the notification server down;
- no password ever appears in the output; an unknown forest is one line, 78.

Run: MAILFERRY=./mailferry python3 tests/test_checklist.py   (0 pass, 77 skip, 1 fail)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, corpus, fixtures, imapcheck, report, slapd, smtpd, term   # noqa: E402
from mftest.dovecot import Dovecot, SOURCE_SPECIAL, TARGET_SPECIAL  # noqa: E402
from mftest.slapd import Slapd                                     # noqa: E402

BIND_DN = 'cn=svc,dc=example'
BIND_PW = 'Bind-Pw-5c0e'
BASE = 'dc=corp,dc=example'
PASS, WARN, FAIL, MANUAL = '[\u2713]', '[!]', '[\u2717]', '[ ]'


def ldif(n):
    out = ['dn: dc=example\nobjectClass: domain\ndc: example\n\n',
           'dn: %s\nobjectClass: person\ncn: svc\nsn: svc\nuserPassword: %s\n\n' % (BIND_DN, BIND_PW),
           'dn: %s\nobjectClass: domain\ndc: corp\n\n' % BASE,
           'dn: ou=People,%s\nobjectClass: organizationalUnit\nou: People\n\n' % BASE]
    for i in range(1, n + 1):
        out.append('dn: uid=user%03d,ou=People,%s\nobjectClass: inetOrgPerson\nuid: user%03d\ncn: User %d\n'
                   'sn: U\nmail: user%03d@corp.example\n\n' % (i, BASE, i, i, i))
    return ''.join(out)


def items(r):
    """{(item, endpoint or None): (mark, found line, fix line)} of a checklist."""
    out = {}
    lines = r.out.splitlines()
    for i, ln in enumerate(lines):
        if not ln.startswith('['):
            continue
        mark, rest = ln[:3], ln[3:].split()
        ep = rest[1][1:-1] if len(rest) > 1 and rest[1].startswith('(') else None
        found = lines[i + 1].strip() if i + 1 < len(lines) else ''
        fix = lines[i + 2].strip() if i + 2 < len(lines) and lines[i + 2].strip().startswith('fix:') else ''
        out.setdefault((rest[0], ep), (mark, found, fix))
    return out


def marks(r, mark):
    return sorted('%s%s' % (k[0], '(%s)' % k[1] if k[1] else '') for k, v in items(r).items() if v[0] == mark)


def main(c):
    fixtures.require()
    slapd.require()
    mf = cli.Mailferry()
    try:
        with Dovecot(name='src', layout='fs', special=SOURCE_SPECIAL, users=4, imaps=True) as src, \
                Dovecot(name='dst', special=TARGET_SPECIAL, users=4, imaps=True, max_mail_size=1 << 20) as dst, \
                Slapd(ldif(4)) as d:
            corpus.bulk(src, 'user002', 3, sizes='small')
            checks(c, mf, src, dst, d)
    finally:
        mf.cleanup()


def checks(c, mf, src, dst, d):
    secrets = [src.admin_password, dst.admin_password, BIND_PW, src.password('user002'), 'wrong-pw']
    bind = mf.write_password_file('bind', BIND_PW)
    r = mf.run('forest', 'add', 'corp', '--role', 'source', '--directory', d.url, '--bind-dn', BIND_DN,
               '--bind-password-file', bind, '--base-dn', BASE)
    c.check(r.rc == 0, 'a source forest with a directory', r)
    mf.endpoint_add('corp-imap', src, tls=True, insecure=True, extra=['--forest', 'corp'])
    r = mf.run('forest', 'discover', 'corp')
    c.check(r.rc == 0, 'its mailboxes from the directory', r)

    r = mf.run('forest', 'checklist', 'corp')
    got = items(r)
    c.check(r.rc == 78 and got.get(('forests', None), ('',))[0] == FAIL and
            'no target forest' in got[('forests', None)][1] and 'forest add' in got[('forests', None)][2],
            'no target forest yet: [\u2717] forests with the command that adds one, exit 78', r)

    r = mf.run('forest', 'add', 'home', '--role', 'target')
    r = mf.run('forest', 'checklist', 'corp')
    got = items(r)
    c.check(r.rc == 78 and got.get(('target-endpoint', None), ('',))[0] == FAIL and
            'endpoint add' in got[('target-endpoint', None)][2],
            'a target forest without an endpoint: [\u2717] target-endpoint with its fix', r)

    mf.endpoint_add('home-imap', dst, tls=True, insecure=True, extra=['--forest', 'home'])
    csv = os.path.join(mf.dir, 'target.csv')
    with open(csv, 'w') as f:
        f.write('login,address\nuser001,user001@new.example\nuser002,user002@new.example\n')
    mf.run('mailbox', 'import', csv, '--endpoint', 'home-imap')

    with smtpd.Smtpd() if smtpd.available() else _NoSmtp() as s:
        if s:
            mf.run('config', 'set', 'smtp_url', s.url)
        r = mf.run('forest', 'checklist', 'corp')
        got = items(r)
        c.check(r.rc == 0 and not marks(r, FAIL) and not marks(r, WARN),
                'a good setup: nothing failed, no warning, exit 0 (%s)' % ', '.join(marks(r, PASS)), r)
        want = [('forests', None), ('target-endpoint', None), ('mailboxes', None), ('directory-read', None),
                ('admin-login', 'corp-imap'), ('admin-mailbox', 'corp-imap'), ('tls', 'corp-imap'),
                ('admin-login', 'home-imap'), ('admin-mailbox', 'home-imap'), ('secrets-mode', None),
                ('store-disk', None)] + ([('notify-smtp', None)] if s else [])
        c.check(all(got.get(k, ('',))[0] == PASS for k in want),
                'the directory, both admins, a user\'s mailbox on each side, files, disk%s: [\u2713]' %
                (', notification server' if s else ''), r)
        c.check(got.get(('largest-message', 'home-imap'), ('', ''))[0] == PASS and
                '4 of the 4 mailboxes read (3 messages)' in got[('largest-message', 'home-imap')][1] and
                'APPENDLIMIT of 1048576 bytes' in got[('largest-message', 'home-imap')][1] and
                not any(k[0] == 'append-limit' for k in got),
                'largest-message: every size of the source mailboxes read, within the target\'s APPENDLIMIT', r)
        c.check(got.get(('clock', None), ('',))[0] in (PASS, MANUAL), 'the clock item is listed', r)
        c.check('4 mailboxes' in got.get(('mailboxes', None), ('', ''))[1], 'the 4 discovered mailboxes counted', r)
        no_secret(c, r, secrets, 'good setup')
        c.info('checklist of a good setup:\n' + r.out.rstrip())
        if s:
            s.stop()
            r = mf.run('forest', 'checklist', 'corp')
            got = items(r).get(('notify-smtp', None), ('', '', ''))
            c.check(r.rc == 78 and got[0] == FAIL and s.url in got[1] and 'smtp_url' in got[2],
                    'the notification server down: [\u2717] notify-smtp naming it, with the fix', r)
            mf.run('config', 'set', 'smtp_url', '')

    # A source message over the target's limit: a warning naming the mailbox.
    conn = src.connect('user001')
    imapcheck.append_raw(conn, 'INBOX', corpus.sized_message(corpus.Gen(7), 'big one', 2 << 20).raw)
    imapcheck.logout(conn)
    r = mf.run('forest', 'checklist', 'corp')
    got = items(r).get(('largest-message', 'home-imap'), ('', '', ''))
    c.check(r.rc == 1 and got[0] == WARN and 'user001' in got[1] and 'over the APPENDLIMIT of 1048576' in got[1]
            and 'quota_max_mail_size' in got[2],
            'a 2 MB source message: [!] largest-message naming the mailbox, the fix, exit 1', r)
    r = mf.run('forest', 'checklist', 'home')
    got = items(r)
    c.check(('append-limit', 'home-imap') in got and ('largest-message', 'home-imap') not in got,
            'the target\'s own checklist has append-limit instead', r)

    # A wrong admin password: login fails, the mailbox is not checked.
    pwfile = mf.password_files['corp-imap']
    with open(pwfile, 'w') as f:
        f.write('wrong-pw\n')
    r = mf.run('forest', 'checklist', 'corp')
    got = items(r)
    login = got.get(('admin-login', 'corp-imap'), ('', '', ''))
    c.check(r.rc == 78 and login[0] == FAIL and pwfile in login[2],
            'wrong admin password: [\u2717] admin-login with a fix naming the password file', r)
    c.check(got.get(('admin-mailbox', 'corp-imap'), ('', ''))[0] == MANUAL and
            'earlier check' in got[('admin-mailbox', 'corp-imap')][1],
            'and admin-mailbox is listed as not checked', r)
    c.check(got.get(('admin-login', 'home-imap'), ('',))[0] == PASS, 'the target\'s admin still passes', r)
    no_secret(c, r, secrets, 'wrong password')
    with open(pwfile, 'w') as f:
        f.write(src.admin_password + '\n')

    # A password file others can read.
    os.chmod(pwfile, 0o644)
    r = mf.run('forest', 'checklist', 'corp')
    got = [v for k, v in items(r).items() if k[0] == 'secrets-mode']
    c.check(r.rc == 78 and got and got[0][0] == FAIL and pwfile in got[0][1] and
            'chmod 600 ' + pwfile in got[0][2],
            'a password file with mode 644: [\u2717] secrets-mode, fix: chmod 600', r)
    os.chmod(pwfile, 0o600)

    # An admin without the right to act for users.
    mf.endpoint_add('plain', src, user='user002', password=src.password('user002'), tls=True, insecure=True,
                    extra=['--forest', 'corp'])
    r = mf.run('mailbox', 'import', os.path.join(mf.dir, 'target.csv'), '--endpoint', 'plain')
    r = mf.run('forest', 'checklist', 'corp')
    got = items(r)
    c.check(r.rc == 78 and got.get(('admin-login', 'plain'), ('',))[0] == PASS and
            got.get(('admin-mailbox', 'plain'), ('',))[0] == FAIL and
            'act for every user' in got[('admin-mailbox', 'plain')][2],
            'an admin without master-user rights: login [\u2713], admin-mailbox [\u2717] with the fix', r)
    c.check(got.get(('admin-mailbox', 'corp-imap'), ('',))[0] == PASS, 'the real admin still passes', r)
    no_secret(c, r, secrets, 'no master-user rights')
    mf.run('endpoint', 'remove', 'plain')

    # A wrong bind password.
    with open(bind, 'w') as f:
        f.write('wrong-pw\n')
    r = mf.run('forest', 'checklist', 'corp')
    got = items(r).get(('directory-read', None), ('', '', ''))
    c.check(r.rc == 78 and got[0] == FAIL and BIND_DN in got[1] and 'bind' in got[2],
            'a wrong bind password: [\u2717] directory-read naming the bind DN, with the fix', r)
    no_secret(c, r, secrets, 'wrong bind password')
    with open(bind, 'w') as f:
        f.write(BIND_PW + '\n')

    r = mf.run('forest', 'checklist', 'home')
    got = items(r)
    c.check(r.rc == 0 and got.get(('admin-mailbox', 'home-imap'), ('',))[0] == PASS and
            ('admin-login', 'corp-imap') not in got,
            'the target\'s own checklist: its endpoint only, exit 0', r)
    if term.TMUX:
        console(c, mf, pwfile)
    r = mf.run('forest', 'checklist', 'nope')
    c.check(r.rc == 78 and fixtures.one_line_error(r), 'unknown forest: one line, exit 78', r)
    r = mf.run('forest', 'checklist')
    c.check(r.rc == 64, 'no NAME: exit 64', r)


def console(c, mf, pwfile):
    """P in the Forests view: the same checklist, in the background."""
    with term.Term(mf, 'console --no-engine', 120, 40) as t:
        t.wait(lambda s: 'Mailbox Jobs' in s, 20)
        t.keys('1')
        ok, text = t.wait(lambda s: 'P checklist' in s and ' corp ' in s, 15)
        t.keys('g', 'P')                   # corp is the first forest
        ok, text = t.wait(lambda s: 'Checklist of corp:' in s, 60)
        c.check(ok and '0 failed' in text and '[\u2713] admin-mailbox (corp-imap)' in text and
                '[\u2713] directory-read' in text and '[\u2713] admin-login (home-imap)' in text,
                'P lists the checklist of the forest: nothing failed, the admins and the directory pass', text)
        t.keys('Enter')
        with open(pwfile, 'w') as f:
            f.write('wrong-pw\n')
        t.keys('P')
        ok, text = t.wait(lambda s: 'Checklist of corp:' in s and '1 failed' in s, 60)
        c.check(ok and '[\u2717] admin-login (corp-imap)' in text and 'fix:' in text and 'wrong-pw' not in text,
                'a wrong admin password: P shows [\u2717] admin-login with its fix, never the password', text)
        c.check('checklist of corp done: failures' in text, 'the status line says so', text)
        t.keys('Enter', 'q')
        t.wait_exit(20)
    with open(pwfile, 'w') as f:
        f.write(mf.passwords['corp-imap'] + '\n')


class _NoSmtp:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


def no_secret(c, r, secrets, what):
    c.check(not any(s in r.out or s in r.err for s in secrets), '%s: no password in the output' % what, r)


if __name__ == '__main__':
    report.main(main, 'test_checklist')
