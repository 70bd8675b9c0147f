#!/usr/bin/python3
"""Identity matching (src/match.c, `mailferry forest match`, `queue --matched`):

- CSV (no directory): `mailbox import` with the optional columns upn and
  proxy_addresses (';'-separated, "SMTP:"/"smtp:" prefixes and case
  normalised, other types such as X500: dropped); matched by primary address
  (case-insensitive), by a proxy address, by UPN; a user whose proxy address
  names a different target than its primary address (conflict listing both);
  two sources claiming one target (both conflicts, each naming the other);
  an unmatched one; `--by login`; exit 1 while anything is not matched and 0
  when everything is; `queue --matched` queues exactly the matched ones with
  the target's login, and a second run queues nothing again;
- a real OpenLDAP slapd (tests/mftest/slapd.py) with two trees, a source
  forest and a target forest, both Active Directory-like (proxyAddresses
  "SMTP:primary" and "smtp:alias", userPrincipalName), the target with one
  inetOrgPerson whose second mail value is the key: discovery stores the
  UPN and every SMTP address; 200 users matched by primary address, the
  same cases as above, non-ASCII display names in the listing; the results
  in the store; `queue --matched` with the target logins.

Run: MAILFERRY=./mailferry python3 tests/test_match.py   (exit 0 pass, 77 skip, 1 fail)
"""

import base64
import os
import re
import sqlite3
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, report                   # noqa: E402
from mftest.jobs import store_rows as rows           # noqa: E402
from mftest.slapd import Slapd, have_slapd       # noqa: E402

BIND_DN = 'cn=svc-mailferry,dc=example'
BIND_PW = 'Bind-Pw-41c7'
SRC_BASE = 'dc=src,dc=example'
DST_BASE = 'dc=dst,dc=example'
BULK = 200


def counts(out):
    m = re.search(r'(\d+) matched, (\d+) conflicts, (\d+) unmatched \((\d+) source, (\d+) target', out)
    return tuple(int(x) for x in m.groups()) if m else None


def block(out, state, login):
    """The lines of the listing for one source mailbox (its line and the indented ones)."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(state) and re.search(r'\s%s on ' % re.escape(login), line):
            j = i + 1
            while j < len(lines) and lines[j].startswith('      '):
                j += 1
            return '\n'.join(lines[i:j])
    return ''


def states(store, endpoint):
    return dict((l, (s, t)) for l, s, t in rows(
        store, 'SELECT m.login, m.match_state, t.login FROM mailboxes m JOIN endpoints e '
        'ON e.id=m.endpoint_id LEFT JOIN mailboxes t ON t.id=m.match_id WHERE e.name=?', endpoint))


def queued_pairs(store):
    return sorted(rows(store, "SELECT p.src_user, p.dst_user FROM jobs j JOIN pairs p ON p.id=j.pair_id "
                       "WHERE j.state='queued'"))


def two_forests(mf, c, src_args=(), dst_args=()):
    pw = mf.write_password_file('imap', 'imap-admin-pw')
    for name, role, extra in (('old', 'source', src_args), ('new', 'target', dst_args)):
        r = mf.run('forest', 'add', name, '--role', role, *extra)
        c.check(r.rc == 0, 'forest %s (%s)' % (name, role), r)
        r = mf.run('endpoint', 'add', name + '-imap', 'imap://127.0.0.1:1', '--user', 'admin',
                   '--password-file', pw, '--forest', name)
        c.check(r.rc == 0, 'endpoint %s-imap in forest %s' % (name, name), r)


# --------------------------------------------------------------------------- CSV

SRC_CSV = '''login,address,display_name,upn,proxy_addresses
alice,Alice@Corp.Example,Zoë Ångström,alice@corp.example,SMTP:alice@corp.example;smtp:a.angstrom@corp.example
bob,bob@old.example,李雷,bob@old.example,smtp:Bob@Corp.Example;X500:/o=Old/ou=x/cn=bob
carol,carol@old.example,"Carol, née Ñúñez",CAROL@corp.example,
dave,dave@corp.example,Dave,,dave@corp.example;smtp:david@corp.example
erin,erin@corp.example,Erin,,
frank,frank@corp.example,Frank,,smtp:erin@corp.example
gina,gina@old.example,Gina Müller-Straße,gina@old.example,
'''

DST_CSV = '''login,address,display_name,upn,proxy_addresses
alice,alice@corp.example,Zoë Ångström,alice@new.example,
bob,bob@corp.example,李雷,,
carol.new,c.new@new.example,Carol New,carol@corp.example,
dave,dave@corp.example,Dave,,
david,david@corp.example,David,,
erin,erin@corp.example,Erin,,
'''


def console_shows_matches(c, mf):
    """The Mailboxes view's MATCH column (ui/view_mailboxes.c)."""
    from mftest import term
    if not term.TMUX:
        c.info('tmux missing: the console part is left out')
        return
    with term.Term(mf, 'console --no-engine', 150, 30) as t:
        t.wait(lambda s: 'Mailbox Jobs' in s, 20)
        t.keys('2')
        ok, text = t.wait(lambda s: 'MATCH' in s and '-> carol.new' in s, 15)
        def row(login):
            # The source's row: the old forest's endpoint sorts after the new one's.
            return ([l for l in text.splitlines() if re.match(r'\s*%s\s' % login, l)] or [''])[-1]
        c.check(ok and '-> carol.new' in row('carol') and 'conflict' in row('dave') and
                'unmatched' in row('gina'), 'console: Mailboxes shows each match: target, conflict, unmatched', text)
        # The add-to-queue dialog's "matched mailbox" target (as queue --matched).
        t.keys(':')
        t.type('forest old')
        t.keys('Enter')
        ok, text = t.wait(lambda s: 'gina' in s and 'carol.new' not in [w for l in s.splitlines()
                                                                          for w in l.split()[:1]], 15)
        t.keys('*', '+')
        ok, text = t.wait(lambda s: 'Add to migration queue' in s and 'Queue 7 selected mailboxes' in s, 15)
        c.check(ok, 'console: + on the 7 mailboxes of the source forest opens the dialog', text)
        t.keys('Right')
        ok, text = t.wait(lambda s: '< matched mailbox (forest match) >' in s and 'Target login' not in s, 10)
        c.check(ok, 'console: the target can be each one\'s matched mailbox (the login choice goes)', text)
        c.check('matched mailbox (last forest match): 3 jobs;' in text and
                'skipped: 3 conflicts, 1 unmatched, 0 never matched' in text,
                'console: the dialog\'s note counts them before OK', text)
        for _ in range(6):                      # priority, start, pass, suspend, notify, [ OK ]
            t.keys('Down')
        t.keys('Enter')
        ok, text = t.wait(lambda s: 'jobs queued' in s, 15)
        c.check(ok and '3 jobs queued' in text and 'not matched, skipped: 3 conflicts, 1 unmatched, 0 never matched'
                in text, 'console: 3 matched mailboxes queued; conflicts and unmatched named on the status line',
                text)
        q = queued_pairs(mf.store)
        c.check(q == [('alice', 'alice'), ('bob', 'bob'), ('carol', 'carol.new')],
                'console: jobs for exactly the matched ones, to their target logins', q)
        t.keys('q')
        t.wait_exit(20)
    # The CLI's queue --matched is checked next from an empty queue.
    db = sqlite3.connect(mf.store)
    db.execute("UPDATE jobs SET state='cancelled'")
    db.commit()
    db.close()


def csv_case(c):
    with cli.Mailferry() as mf:
        two_forests(mf, c)
        for name, text in (('old', SRC_CSV), ('new', DST_CSV)):
            path = os.path.join(mf.dir, name + '.csv')
            with open(path, 'w', encoding='utf-8') as f:
                f.write(text)
            r = mf.run('mailbox', 'import', path, '--endpoint', name + '-imap')
            c.check(r.rc == 0, 'CSV with upn and proxy_addresses imported into %s' % name, r)
        store = mf.store
        got = rows(store, "SELECT upn, proxy_addresses FROM mailboxes WHERE login='bob' AND "
                   "endpoint_id=(SELECT id FROM endpoints WHERE name='old-imap')")
        c.check(got == [('bob@old.example', 'bob@corp.example')],
                'CSV proxy addresses: lower case, prefix removed, X500 dropped', got)
        got = rows(store, "SELECT upn FROM mailboxes WHERE login='carol' AND "
                   "endpoint_id=(SELECT id FROM endpoints WHERE name='old-imap')")
        c.check(got == [('carol@corp.example',)], 'CSV upn lower case', got)

        r = mf.run('forest', 'match', 'old', 'new')
        c.info(r.out.strip())
        c.check(r.rc == 1 and counts(r.out) == (3, 3, 1, 7, 6),
                'CSV: 3 matched, 3 conflicts, 1 unmatched; exit 1', r)
        st = states(store, 'old-imap')
        c.check(st == {'alice': ('matched', 'alice'), 'bob': ('matched', 'bob'),
                       'carol': ('matched', 'carol.new'), 'dave': ('conflict', None),
                       'erin': ('conflict', None), 'frank': ('conflict', None),
                       'gina': ('unmatched', None)}, 'CSV: results in the store', st)
        keys = dict(rows(store, "SELECT login, match_key FROM mailboxes WHERE match_state='matched'"))
        c.check(keys == {'alice': 'address alice@corp.example', 'bob': 'proxy bob@corp.example',
                         'carol': 'upn carol@corp.example'},
                'CSV: matched by address (any case), proxy address, UPN', keys)
        b = block(r.out, 'conflict', 'dave')
        c.check('address dave@corp.example -> dave on new-imap' in b and
                'proxy david@corp.example -> david on new-imap (David)' in b,
                'CSV: proxy address naming another target than the primary: conflict with both', b)
        for who, other, key in (('erin', 'frank', 'proxy erin@corp.example'),
                                ('frank', 'erin', 'address erin@corp.example')):
            b = block(r.out, 'conflict', who)
            c.check('-> erin on new-imap' in b and ('also claimed by %s on old-imap' % other) in b and
                    key in b, 'CSV: two sources claim target erin: %s names %s (%s)' % (who, other, key), b)
        b = block(r.out, 'unmatched', 'gina')
        c.check('Gina Müller-Straße' in b and 'gina@old.example' in b,
                'CSV: the unmatched one with its keys and non-ASCII name', b)
        c.check('alice' not in r.out.split('forest match')[0], 'matched ones are not listed without --all')

        console_shows_matches(c, mf)
        r = mf.run('forest', 'match', 'old', 'new', '--all')
        c.check(re.search(r'^matched\s+bob on old-imap \(李雷\) -> bob on new-imap by proxy bob@corp.example$',
                          r.out, re.M), '--all lists the matched ones too', r)
        r = mf.run('forest', 'match', 'old', 'new', '--by', 'login')
        c.check(r.rc == 1 and counts(r.out) == (4, 0, 3, 7, 6) and
                states(store, 'old-imap')['bob'] == ('matched', 'bob'),
                '--by login: 4 matched on login alone', r)
        r = mf.run('forest', 'match', 'old', 'new', '--by', 'nickname')
        c.check(r.rc == 64 and 'nickname' in r.err, 'unknown --by refused (64)', r)
        r = mf.run('forest', 'match', 'old', 'old')
        c.check(r.rc == 78, 'a forest matched to itself refused (78)', r)
        r = mf.run('forest', 'match', 'old', 'new')
        c.check(r.rc == 1 and counts(r.out) == (3, 3, 1, 7, 6), 'default criteria again', r)

        r = mf.run('queue', 'old-imap', 'new-imap', 'alice', '--matched')
        c.check(r.rc == 64, 'queue --matched with a MAILBOX is a usage error', r)
        r = mf.run('queue', 'old-imap', 'new-imap', '--matched', '--pass', 'trial')
        c.check(r.rc == 0 and '3 matched mailboxes of old-imap queued to new-imap' in r.out and
                '3 conflicts, 1 unmatched' in r.out, 'queue --matched queues the 3 matched', r)
        q = queued_pairs(store)
        c.check(q == [('alice', 'alice'), ('bob', 'bob'), ('carol', 'carol.new')],
                'jobs for exactly the matched ones, with the target logins', q)
        j = mf.run('jobs')
        c.check(j.rc == 0 and 'carol.new' in j.out and 'dave' not in j.out, 'mailferry jobs shows them', j)
        r = mf.run('queue', 'old-imap', 'new-imap', '--matched')
        c.check(r.rc == 0 and '0 matched mailboxes' in r.out and '(3 already queued)' in r.out and
                len(queued_pairs(store)) == 3, 'a second queue --matched queues nothing twice', r)

        # Fixing the data: everything matched, exit 0.
        for ep, text in (('old-imap', 'login,proxy_addresses\ndave,dave@corp.example\nfrank,frank@corp.example\n'),
                         ('new-imap', 'login,address\nfrank,frank@corp.example\ngina,GINA@old.example\n')):
            fix = os.path.join(mf.dir, 'fix.csv')
            with open(fix, 'w') as f:
                f.write(text)
            r = mf.run('mailbox', 'import', fix, '--endpoint', ep)
            c.check(r.rc == 0, 'corrections imported into %s' % ep, r)
        r = mf.run('forest', 'match', 'old', 'new')
        c.check(r.rc == 0 and counts(r.out) == (7, 0, 0, 7, 8), 'everything matched: exit 0', r)


# --------------------------------------------------------------------------- LDAP

def attr(name, value):
    if isinstance(value, bytes):
        return '%s:: %s\n' % (name, base64.b64encode(value).decode())
    if value.isascii():
        return '%s: %s\n' % (name, value)
    return '%s:: %s\n' % (name, base64.b64encode(value.encode('utf-8')).decode())


def ad_user(base, login, display, primary, aliases=(), upn=None):
    s = 'dn: cn=%s,ou=Users,%s\n' % (login, base)
    s += 'objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\n'
    s += 'cn: %s\nsn: %s\n' % (login, login) + attr('displayName', display)
    s += 'sAMAccountName: %s\n' % login
    if upn:
        s += 'userPrincipalName: %s\n' % upn
    s += 'mail: %s\nproxyAddresses: SMTP:%s\n' % (primary, primary)
    for a in aliases:
        s += 'proxyAddresses: smtp:%s\n' % a
    s += 'proxyAddresses: X500:/o=Org/ou=Exchange/cn=%s\n' % login
    s += attr('objectGUID', uuid.uuid5(uuid.NAMESPACE_DNS, base + login).bytes)
    return s + '\n'


def make_ldif():
    out = ['dn: dc=example\nobjectClass: domain\ndc: example\n\n',
           'dn: %s\nobjectClass: person\ncn: svc-mailferry\nsn: svc\nuserPassword: %s\n\n' % (BIND_DN, BIND_PW)]
    for base in (SRC_BASE, DST_BASE):
        out.append('dn: %s\nobjectClass: domain\ndc: %s\n\n' % (base, base.split(',')[0][3:]))
        out.append('dn: ou=Users,%s\nobjectClass: organizationalUnit\nou: Users\n\n' % base)
    names = ['Zoë Ångström', 'José Ñúñez', '李雷', 'Jürgen Müller-Straße']
    for i in range(1, BULK + 1):
        disp = '%s %04d' % (names[i % 4], i)
        out.append(ad_user(SRC_BASE, 'u%04d' % i, disp, 'u%04d@corp.example' % i, ['u%04d@old.example' % i],
                           upn='u%04d@old.example' % i))
        out.append(ad_user(DST_BASE, 't%04d' % i, disp, 'U%04d@Corp.Example' % i, upn='t%04d@new.example' % i))
    s, d = SRC_BASE, DST_BASE
    out += [
        ad_user(s, 'alice', 'Zoë Ångström', 'alice@corp.example', ['a.angstrom@corp.example'], 'alice@old.example'),
        ad_user(d, 'alice.n', 'Zoë Ångström', 'alice@corp.example', upn='alice@new.example'),
        ad_user(s, 'bob', '李雷', 'bob@old.example', ['bob@corp.example']),
        ad_user(d, 'bob.n', '李雷', 'bob@corp.example'),
        ad_user(s, 'carol', 'Carol Ñúñez', 'carol@old.example', upn='carol@corp.example'),
        ad_user(d, 'carol.n', 'Carol New', 'c.new@new.example', upn='Carol@Corp.Example'),
        # The case: the primary names one target, a proxy address another.
        ad_user(s, 'dave', 'Dave Jürgens', 'dave@corp.example', ['david@corp.example']),
        ad_user(d, 'dave.n', 'Dave N', 'dave@corp.example'),
        ad_user(d, 'david.n', 'David N', 'david@corp.example'),
        # Two sources, one target.
        ad_user(s, 'erin', 'Erin', 'erin@corp.example'),
        ad_user(s, 'frank', 'Frank', 'frank@corp.example', ['erin@corp.example']),
        ad_user(d, 'erin.n', 'Erin N', 'erin@corp.example'),
        ad_user(s, 'gina', 'Gina Müller', 'gina@old.example', upn='gina@old.example'),
        ad_user(s, 'harry', 'Harry', 'harry@old.example', ['harry@corp.example']),
    ]
    # A plain inetOrgPerson target whose second mail value is the key.
    out.append('dn: uid=harry.n,ou=Users,%s\nobjectClass: inetOrgPerson\nuid: harry.n\ncn: Harry N\nsn: N\n'
               'mail: h.new@new.example\nmail: Harry@Corp.Example\n\n' % DST_BASE)
    return ''.join(out)


def ldap_case(c):
    with Slapd(make_ldif(), suffix='dc=example', size_limit=1000) as d, cli.Mailferry() as mf:
        pwf = mf.write_password_file('bind', BIND_PW)
        common = ['--directory', d.url, '--bind-dn', BIND_DN, '--bind-password-file', pwf]
        two_forests(mf, c, common + ['--base-dn', SRC_BASE], common + ['--base-dn', DST_BASE])
        for f in ('old', 'new'):
            r = mf.run('forest', 'discover', f)
            c.check(r.rc == 0, 'forest discover %s' % f, r)
        store = mf.store
        got = rows(store, "SELECT upn, proxy_addresses FROM mailboxes WHERE login='bob'")
        c.check(got == [(None, 'bob@old.example\nbob@corp.example')],
                'discovery: every SMTP proxy address, lower case, no prefix, X500 dropped', got)
        got = rows(store, "SELECT upn, address FROM mailboxes WHERE login='carol.n'")
        c.check(got == [('carol@corp.example', 'c.new@new.example')], 'discovery: UPN lower case', got)
        got = rows(store, "SELECT proxy_addresses FROM mailboxes WHERE login='harry.n'")
        c.check(got == [('h.new@new.example\nharry@corp.example',)], 'discovery: every mail value (inetOrgPerson)', got)

        r = mf.run('forest', 'match', 'old', 'new')
        c.info(r.out.strip().splitlines()[-1])
        n_src, n_dst = BULK + 8, BULK + 7
        c.check(r.rc == 1 and counts(r.out) == (BULK + 4, 3, 1, n_src, n_dst),
                'LDAP: %d matched, 3 conflicts, 1 unmatched; exit 1' % (BULK + 4), r)
        st = states(store, 'old-imap')
        bulk_ok = all(st['u%04d' % i] == ('matched', 't%04d' % i) for i in range(1, BULK + 1))
        c.check(bulk_ok, 'LDAP: %d users matched by primary address to their target' % BULK)
        want = {'alice': ('matched', 'alice.n'), 'bob': ('matched', 'bob.n'), 'carol': ('matched', 'carol.n'),
                'harry': ('matched', 'harry.n'), 'dave': ('conflict', None), 'erin': ('conflict', None),
                'frank': ('conflict', None), 'gina': ('unmatched', None)}
        got = {k: st[k] for k in want}
        c.check(got == want, 'LDAP: the special cases in the store', got)
        b = block(r.out, 'conflict', 'dave')
        c.check('conflict   dave on old-imap (Dave Jürgens)' in b and
                'address dave@corp.example -> dave.n on new-imap (Dave N)' in b and
                'proxy david@corp.example -> david.n on new-imap (David N)' in b,
                'LDAP: proxyAddresses matching a different target user than the primary: conflict', b)
        b = block(r.out, 'conflict', 'frank')
        c.check('-> erin.n on new-imap' in b and 'also claimed by erin on old-imap (Erin) through address '
                'erin@corp.example' in b, 'LDAP: two sources claiming one target, both parties listed', b)
        b = block(r.out, 'unmatched', 'gina')
        c.check('(Gina Müller)' in b and 'upn gina@old.example' in b, 'LDAP: unmatched with its keys', b)
        keys = dict(rows(store, "SELECT login, match_key FROM mailboxes WHERE login IN "
                     "('alice','bob','carol','harry','u0007')"))
        c.check(keys == {'alice': 'address alice@corp.example', 'bob': 'proxy bob@corp.example',
                         'carol': 'upn carol@corp.example', 'harry': 'proxy harry@corp.example',
                         'u0007': 'address u0007@corp.example'}, 'LDAP: the deciding keys', keys)

        r = mf.run('queue', 'old-imap', 'new-imap', '--matched')
        c.check(r.rc == 0 and '%d matched mailboxes of old-imap queued' % (BULK + 4) in r.out,
                'LDAP: queue --matched', r)
        q = dict(queued_pairs(store))
        c.check(len(q) == BULK + 4 and q['alice'] == 'alice.n' and q['harry'] == 'harry.n' and
                q['u0123'] == 't0123' and not {'dave', 'erin', 'frank', 'gina'} & set(q),
                'LDAP: exactly the matched ones, with the target logins', sorted(q.items())[:10])


def run(c):
    cli.require_binary()
    csv_case(c)
    if not have_slapd():
        if os.environ.get('MFTEST_REQUIRE_DOVECOT') == '1':
            c.check(False, 'slapd is installed (apt-get install slapd ldap-utils)')
        else:
            c.info('slapd is not installed: the directory part is skipped')
        return
    ldap_case(c)


if __name__ == '__main__':
    report.main(run)
