#!/usr/bin/python3
"""Directory discovery (src/directory.c, `mailferry forest discover`) against a
real OpenLDAP slapd on 127.0.0.1 (tests/mftest/slapd.py):

- an Active Directory-like tree (test schema with AD's attributes) of 2 000
  users in four sites plus shared, room and equipment mailboxes, hidden ones,
  non-ASCII display names, delegates (one pointing at no entry), a user
  without mail; and a plain inetOrgPerson tree;
- slapd gives at most 500 entries to a plain search: only RFC 2696 paging
  gets them all (checked with ldapsearch first);
- a server that drops the connection in the middle of the search (proxy):
  exit 75 naming forest and server, the pages before stay, no mark;
- full discovery: every mailbox with its site, database, kind, address,
  display name and delegates in the store;
- incremental rediscovery reads nothing when nothing changed, then sees an
  add (ldapadd), a change (displayName) and a removal (ldapdelete: marked
  vanished, the row and its delegations kept);
- wrong bind password (77, names the DN), bad filter (78, names the
  filter), unreachable server (75), malformed URL (78): the discovered
  mailboxes are untouched after each;
- the plain LDAP tree: uid logins, site from `ou`, modifyTimestamp mark;
- the bind password is in no store file;
- several URLs (space-separated): a dead first server is skipped, by
  discovery and by `forest check`, and the report names the one that
  answered; a refused bind is not retried elsewhere; all dead: exit 75
  naming every URL; a malformed URL in the list is named;
- a forest without a base DN searches the root DSE's naming context;
- msExchDelegateListLink gives FullAccess delegates (joined with
  publicDelegates' SendOnBehalf for the same user);
- a `group:DN` scope line discovers only the group's members (memberOf),
  and an incremental run sees a member added without a uSNChanged change;
- a user renamed in the directory (same objectGUID, new sAMAccountName) is
  the same mailbox with a new login: its job (and the pair) follow, nothing
  vanishes or is added;
- referrals are never followed: one inside the tree is a warning naming it
  (a loop when it refers back) and the run marks nothing vanished; a base
  that is a referral (loop or elsewhere) exits 78 naming it.
- the attribute map (`forest set --attr FIELD=ATTR`): stored, listed, used
  by a full run; an unknown field or a bad attribute name refused (78).

Run: MAILFERRY=./mailferry python3 tests/test_directory.py   (exit 0 pass, 77 skip, 1 fail)
"""

import base64
import os
import re
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, report                       # noqa: E402
from mftest.jobs import store_rows as rows           # noqa: E402
from mftest.proxy import Proxy, Fault                # noqa: E402
from mftest.slapd import Slapd, have_slapd, free_port  # noqa: E402

SITES = ['Paris', 'Berlin', 'Tokyo', 'Boston']
USERS_PER_SITE = 500
RESOURCES = [('shared', 4, 10), ('room', 16, 5), ('equipment', 32, 3)]   # per site
BIND_DN = 'cn=svc-mailferry,dc=example'
BIND_PW = 'Bind-Pw-7f3c9e'
AD_BASE = 'dc=corp,dc=example'
PLAIN_BASE = 'dc=plain,dc=example'
PLAIN_USERS = 20
PAGED_OID = b'1.2.840.113556.1.4.319'


def attr(name, value):
    """One LDIF line; base64 when the value is not plain ASCII."""
    if isinstance(value, bytes):
        return '%s:: %s\n' % (name, base64.b64encode(value).decode())
    if value.isascii() and not value.startswith((' ', ':', '<')):
        return '%s: %s\n' % (name, value)
    return '%s:: %s\n' % (name, base64.b64encode(value.encode('utf-8')).decode())


def display_name(i):
    names = ['Zoë Ångström', 'José Ñúñez', '李雷', 'Jürgen Müller-Straße']
    if i % 10 == 0:
        return '%s %04d' % (names[(i // 10) % len(names)], i)
    return 'User %04d' % i


def user_dn(i):
    return 'cn=u%04d,ou=Users,ou=%s,%s' % (i, SITES[(i - 1) // USERS_PER_SITE], AD_BASE)


WAVE1 = 'cn=Wave1,ou=Groups,%s' % AD_BASE
WAVE1_USERS = 30


def ad_entry(dn, login, site_code, details, n, usn, display, hidden=False, delegates=(),
             full_access=(), groups=()):
    s = 'dn: %s\n' % dn
    s += 'objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\n'
    s += 'cn: %s\nsn: %s\n' % (dn.split(',')[0][3:], login)
    s += attr('displayName', display)
    s += 'sAMAccountName: %s\nuserPrincipalName: %s@corp.example\n' % (login, login)
    s += 'mail: %s@corp.example\n' % login
    s += 'proxyAddresses: smtp:%s@old.example\nproxyAddresses: SMTP:%s@corp.example\n' % (login, login)
    s += attr('objectGUID', uuid.uuid5(uuid.NAMESPACE_DNS, login).bytes)
    s += 'homeMDB: cn=DB-%s-%02d,cn=Databases,%s\n' % (site_code, n % 2 + 1, AD_BASE)
    s += 'msExchRecipientTypeDetails: %d\n' % details
    s += 'uSNChanged: %d\n' % usn
    if hidden:
        s += 'msExchHideFromAddressLists: TRUE\n'
    for d in delegates:
        s += 'publicDelegates: %s\n' % d
    for d in full_access:
        s += 'msExchDelegateListLink: %s\n' % d
    for g in groups:
        s += 'memberOf: %s\n' % g
    return s + '\n'


def make_ldif():
    out = ['dn: dc=example\nobjectClass: domain\ndc: example\n\n',
           'dn: %s\nobjectClass: person\ncn: svc-mailferry\nsn: svc\nuserPassword: %s\n\n'
           % (BIND_DN, BIND_PW),
           'dn: %s\nobjectClass: domain\ndc: corp\n\n' % AD_BASE,
           'dn: %s\nobjectClass: domain\ndc: plain\n\n' % PLAIN_BASE]
    for site in SITES:
        for ou in ('ou=%s,%s' % (site, AD_BASE), 'ou=Users,ou=%s,%s' % (site, AD_BASE),
                   'ou=Resources,ou=%s,%s' % (site, AD_BASE)):
            out.append('dn: %s\nobjectClass: organizationalUnit\nou: %s\n\n' % (ou, ou.split(',')[0][3:]))
    usn = 10000
    for i in range(1, len(SITES) * USERS_PER_SITE + 1):
        site = SITES[(i - 1) // USERS_PER_SITE]
        dels = [user_dn(i + 1), user_dn(i + 2)] if i % 100 == 1 else []
        if i == 201:
            dels.append('cn=nobody,ou=Users,ou=Paris,%s' % AD_BASE)    # not an entry
        usn += 1
        out.append(ad_entry(user_dn(i), 'u%04d' % i, site[:3].upper(), 1, i, usn, display_name(i),
                            hidden=i % 50 == 0, delegates=dels,
                            groups=[WAVE1] if i <= WAVE1_USERS else []))
    for site in SITES:
        for kind, details, count in RESOURCES:
            for k in range(1, count + 1):
                login = '%s-%s-%02d' % (kind, site.lower(), k)
                usn += 1
                first = SITES.index(site) * USERS_PER_SITE
                # Shared mailboxes: the send-on-behalf delegate has full access
                # too, and a second user full access only.
                full = [user_dn(first + k), user_dn(first + k + 10)] if kind == 'shared' else []
                out.append(ad_entry('cn=%s,ou=Resources,ou=%s,%s' % (login, site, AD_BASE), login,
                                    site[:3].upper(), details, k, usn, '%s %s %d' % (site, kind, k),
                                    delegates=[user_dn(first + k)], full_access=full))
    out.append('dn: ou=Groups,%s\nobjectClass: organizationalUnit\nou: Groups\n\n' % AD_BASE)
    out.append('dn: %s\nobjectClass: groupOfNames\ncn: Wave1\n%s\n'
               % (WAVE1, ''.join('member: %s\n' % user_dn(i) for i in range(1, WAVE1_USERS + 1))))
    # Not mail-enabled: not a mailbox.
    out.append('dn: cn=nomail,ou=Users,ou=Paris,%s\nobjectClass: user\ncn: nomail\nsn: x\n'
               'sAMAccountName: nomail\n\n' % AD_BASE)
    out.append('dn: ou=People,%s\nobjectClass: organizationalUnit\nou: People\n\n' % PLAIN_BASE)
    for i in range(1, PLAIN_USERS + 1):
        out.append('dn: uid=p%02d,ou=People,%s\nobjectClass: inetOrgPerson\nuid: p%02d\ncn: Person %02d\n'
                   'sn: P\nmail: p%02d@plain.example\nou: Lyon\n%s\n'
                   % (i, PLAIN_BASE, i, i, i, attr('displayName', 'Élodie %02d' % i)))
    return ''.join(out)


AD_TOTAL = len(SITES) * (USERS_PER_SITE + sum(c for _, _, c in RESOURCES))


def counts(out):
    m = re.search(r'(\d+) added, (\d+) changed, (\d+) vanished, (\d+) total', out)
    return tuple(int(x) for x in m.groups()) if m else None


def snapshot(store):
    return rows(store, 'SELECT id, login, address, display_name, site, database, kind, vanished, '
                'dir_key FROM mailboxes ORDER BY id')


def run(c):
    cli.require_binary()
    if not have_slapd():
        if os.environ.get('MFTEST_REQUIRE_DOVECOT') == '1':
            c.check(False, 'slapd is installed (apt-get install slapd ldap-utils)')
            return
        raise report.Skip('slapd is not installed (apt-get install slapd ldap-utils)')
    with Slapd(make_ldif(), suffix='dc=example', size_limit=500) as d, cli.Mailferry() as mf:
        c.info('slapd on %s, %d mailboxes loaded in %.2f s' % (d.url, AD_TOTAL, d.load_seconds))
        body(c, d, mf)


def body(c, d, mf):
    flt = '(&(mail=*)(|(objectClass=user)(objectClass=inetOrgPerson)))'
    rc, n = d.search_as(BIND_DN, BIND_PW, AD_BASE, flt)
    c.check(rc == 4 and n == 500, 'a plain search stops at the size limit (500 of %d)' % AD_TOTAL,
            'exit %s, %d entries' % (rc, n))
    rc, n = d.search_as(BIND_DN, BIND_PW, AD_BASE, flt, paged=True)
    c.check(rc == 0 and n == AD_TOTAL, 'a paged search returns all %d' % AD_TOTAL, 'exit %s, %d' % (rc, n))

    pw = mf.write_password_file('bind', BIND_PW)
    imap_pw = mf.write_password_file('imap', 'imap-admin-pw')
    r = mf.run('forest', 'add', 'corp', '--role', 'source', '--directory', d.url, '--bind-dn', BIND_DN,
               '--bind-password-file', pw, '--base-dn', AD_BASE)
    c.check(r.rc == 0, 'forest add with a directory and a bind password file', r)
    r = mf.run('endpoint', 'add', 'corp-imap', 'imap://127.0.0.1:1', '--user', 'admin',
               '--password-file', imap_pw, '--forest', 'corp')
    c.check(r.rc == 0, 'the forest\'s mail endpoint', r)
    store = mf.store

    # --- a server that stops in the middle of the search
    with Proxy(('127.0.0.1', d.port), faults=[Fault(pattern=PAGED_OID, count=3)]) as p:
        purl = 'ldap://127.0.0.1:%d' % p.port
        mf.run('forest', 'set', 'corp', '--directory', purl)
        r = mf.run('forest', 'discover', 'corp')
        c.check(r.rc == 75 and 'forest corp' in r.err and purl in r.err,
                'connection dropped at the third page: exit 75 naming forest and server', r)
        kept = rows(store, 'SELECT count(*) FROM mailboxes WHERE dir_key IS NOT NULL')[0][0]
        c.check(kept == 1000, 'the two pages read before stay (%d mailboxes)' % kept)
        c.check(rows(store, 'SELECT dir_hwm FROM forests WHERE name=?', 'corp')[0][0] is None,
                'no high-water mark after a failed run')
    mf.run('forest', 'set', 'corp', '--directory', d.url)

    # --- full discovery
    r = mf.run('forest', 'discover', 'corp')
    c.check(r.rc == 0 and counts(r.out) == (AD_TOTAL - 1000, 0, 0, AD_TOTAL),
            'full discovery: %d added, %d total' % (AD_TOTAL - 1000, AD_TOTAL), r)
    c.check(re.search(r'in \d+ pages, \d+\.\d s', r.out) and 'full' in r.out, 'pages and elapsed time printed', r)
    c.info(r.out.strip().replace('\n', ' / '))
    c.check('40 hidden' in r.out, 'hidden mailboxes counted (and discovered)', r)
    mark = rows(store, 'SELECT dir_hwm FROM forests WHERE name=?', 'corp')[0][0]
    c.check(mark == 'usn:%d' % (10000 + AD_TOTAL), 'high-water mark is the highest uSNChanged (%s)' % mark)
    by_kind = dict(rows(store, 'SELECT kind, count(*) FROM mailboxes GROUP BY kind'))
    c.check(by_kind == {'user': 2000, 'shared': 40, 'room': 20, 'equipment': 12},
            'kinds from msExchRecipientTypeDetails', by_kind)
    by_site = dict(rows(store, 'SELECT site, count(*) FROM mailboxes GROUP BY site'))
    c.check(by_site == {s: AD_TOTAL // len(SITES) for s in SITES}, 'sites from the OU path', by_site)
    row = rows(store, 'SELECT address, display_name, site, database, kind FROM mailboxes WHERE login=?',
               'u0010')
    c.check(row == [('u0010@corp.example', 'José Ñúñez 0010', 'Paris', 'DB-PAR-01', 'user')],
            'a user: primary SMTP address, non-ASCII display name, site, database', row)
    row = rows(store, 'SELECT display_name FROM mailboxes WHERE login=?', 'u0020')
    c.check(row == [('李雷 0020',)], 'CJK display name kept byte for byte', row)
    dl = rows(store, 'SELECT m.login, g.login, d.rights, d.origin FROM delegates d '
              'JOIN mailboxes m ON m.id=d.mailbox_id JOIN mailboxes g ON g.id=d.delegate_id '
              'WHERE m.login IN (?, ?) ORDER BY 1, 2', 'u0101', 'room-paris-01')
    c.check(dl == [('room-paris-01', 'u0001', 'SendOnBehalf', 'directory'),
                   ('u0101', 'u0102', 'SendOnBehalf', 'directory'),
                   ('u0101', 'u0103', 'SendOnBehalf', 'directory')],
            'publicDelegates became delegations (origin directory)', dl)
    dl = rows(store, 'SELECT g.login, d.rights FROM delegates d JOIN mailboxes m ON m.id=d.mailbox_id '
              'JOIN mailboxes g ON g.id=d.delegate_id WHERE m.login=? ORDER BY 1', 'shared-paris-01')
    c.check(dl == [('u0001', 'FullAccess;SendOnBehalf'), ('u0011', 'FullAccess')],
            'msExchDelegateListLink: FullAccess, joined with SendOnBehalf for the same user', dl)
    ndel = rows(store, 'SELECT count(*) FROM delegates')[0][0]
    c.check(ndel == 40 + 72 + 40 and '1 delegates not found' in r.out,
            'every delegation in (%d); the DN that is no entry reported' % ndel, r)
    lst = mf.run('mailbox', 'list', '--forest', 'corp')
    c.check(lst.rc == 0 and len(lst.out.splitlines()) == AD_TOTAL, 'mailbox list shows them all',
            lst.out[-500:])
    c.check(rows(store, "SELECT count(*) FROM mailboxes WHERE login='nomail'")[0][0] == 0,
            'an entry without mail is not a mailbox')

    # --- incremental
    r = mf.run('forest', 'discover', 'corp')
    c.check(r.rc == 0 and counts(r.out) == (0, 0, 0, AD_TOTAL) and 'incremental' in r.out
            and '(0 entries read' in r.out, 'rediscovery without changes reads no entry', r)
    new = ad_entry('cn=u9001,ou=Users,ou=Berlin,%s' % AD_BASE, 'u9001', 'BER', 1, 1, 30000, 'New Person')
    d.modify(new.replace('\nobjectClass: top', '\nchangetype: add\nobjectClass: top', 1))
    d.modify('dn: %s\nchangetype: modify\nreplace: displayName\ndisplayName: Renamed Five\n-\n'
             'replace: uSNChanged\nuSNChanged: 30001\n\n' % user_dn(5))
    d.delete(user_dn(101))
    before = {x[1]: x for x in snapshot(store)}
    r = mf.run('forest', 'discover', 'corp')
    c.check(r.rc == 0 and counts(r.out) == (1, 1, 1, AD_TOTAL),
            'rediscovery: 1 added, 1 changed, 1 vanished', r)
    c.info(r.out.strip().replace('\n', ' / '))
    c.check(rows(store, 'SELECT display_name, site FROM mailboxes WHERE login=?', 'u0005') ==
            [('Renamed Five', 'Paris')] and
            rows(store, 'SELECT site FROM mailboxes WHERE login=?', 'u9001') == [('Berlin',)],
            'the change and the new mailbox are in the store')
    gone = rows(store, 'SELECT vanished, display_name FROM mailboxes WHERE login=?', 'u0101')
    kept_dl = rows(store, 'SELECT count(*) FROM delegates d JOIN mailboxes m ON m.id=d.mailbox_id '
                   'WHERE m.login=?', 'u0101')[0][0]
    c.check(gone == [(1, before['u0101'][3])] and kept_dl == 2,
            'the deleted entry is marked vanished, its row and delegations kept', (gone, kept_dl))
    lst = mf.run('mailbox', 'list', '--forest', 'corp')
    c.check(any(' u0101 ' in l and 'vanished' in l for l in lst.out.splitlines()),
            'mailbox list shows it vanished')
    c.check(rows(store, 'SELECT dir_hwm FROM forests WHERE name=?', 'corp')[0][0] == 'usn:30001',
            'the mark moved to the newest change')


    # --- a rename in the directory: same objectGUID, new sAMAccountName
    mf.run('endpoint', 'add', 'dst-imap', 'imap://127.0.0.1:5', '--user', 'admin', '--password-file', imap_pw)
    r = mf.run('queue', 'corp-imap', 'dst-imap', 'u0007', '--start-at', '2031-05-04 03:00')
    c.check(r.rc == 0, 'a job for u0007 queued', r)
    before = rows(store, "SELECT id, dir_key FROM mailboxes WHERE login='u0007'")
    d.modify('dn: %s\nchangetype: modify\nreplace: sAMAccountName\nsAMAccountName: u0007-renamed\n-\n'
             'replace: uSNChanged\nuSNChanged: 30002\n\n' % user_dn(7))
    r = mf.run('forest', 'discover', 'corp')
    after = rows(store, "SELECT id, dir_key, vanished FROM mailboxes WHERE login='u0007-renamed'")
    c.check(r.rc == 0 and counts(r.out) == (0, 1, 0, AD_TOTAL) and '1 renamed' in r.out and
            after == [before[0] + (0,)] and
            rows(store, "SELECT count(*) FROM mailboxes WHERE login='u0007'") == [(0,)],
            'renamed user: same mailbox id and key, new login, not vanished + added', (r, before, after))
    pairs = rows(store, 'SELECT src_user, src_mailbox_id FROM pairs')
    c.check(pairs == [('u0007-renamed', before[0][0])], 'the job\'s pair follows the new login', pairs)
    jobs = mf.run('jobs')
    mf.run('pause', '1')
    c.check('u0007-renamed' in jobs.out and
            rows(store, "SELECT count(*) FROM mailboxes WHERE login='u0007'") == [(0,)] and
            rows(store, 'SELECT src_mailbox_id FROM pairs') == [(before[0][0],)],
            'the job kept, shown with the new login; a job change makes no row for the old one', jobs)
    dl = rows(store, 'SELECT count(*) FROM delegates d JOIN mailboxes m ON m.id=d.delegate_id '
              "WHERE m.login='u0007-renamed'")
    c.check(dl == [(1,)], 'the delegation to the renamed user (shared-paris-07) kept', dl)

    # --- failures leave the store alone
    snap = snapshot(store)
    mf.write_password_file('bind', 'wrong-password')
    r = mf.run('forest', 'discover', 'corp')
    c.check(r.rc == 77 and BIND_DN in r.err and 'wrong-password' not in r.err + r.out,
            'wrong bind password: exit 77 naming the DN', r)
    c.check(snapshot(store) == snap, 'mailboxes untouched after the refused bind')
    mf.write_password_file('bind', BIND_PW)

    bad = '(&(mail=*)(objectClass=user'
    mf.run('forest', 'set', 'corp', '--filter', bad)
    r = mf.run('forest', 'discover', 'corp')
    c.check(r.rc == 78 and ("filter '%s' is not valid" % bad) in r.err, 'bad filter: exit 78 naming it', r)
    c.check(snapshot(store) == snap, 'mailboxes untouched after the bad filter')
    mf.run('forest', 'set', 'corp', '--filter', '')

    dead = 'ldap://127.0.0.1:%d' % free_port()
    mf.run('forest', 'set', 'corp', '--directory', dead)
    r = mf.run('forest', 'discover', 'corp')
    c.check(r.rc == 75 and 'forest corp' in r.err and dead in r.err,
            'unreachable server: exit 75 naming forest and server', r)
    c.check(snapshot(store) == snap, 'mailboxes untouched after the unreachable server')
    for url in ('ldap//127.0.0.1', 'http://127.0.0.1/', '%s http://127.0.0.1/' % d.url):
        r = mf.run('forest', 'set', 'corp', '--directory', url)
        bad = url.split()[-1]
        c.check(r.rc == 78 and ("'%s'" % bad) in r.err, 'malformed URL %s refused (78) naming it' % bad, r)
    c.check(snapshot(store) == snap, 'mailboxes untouched after the malformed URLs')

    # --- several directory servers: the first that answers
    dead2 = 'ldap://127.0.0.1:%d' % free_port()
    with_dn = '%s/%s' % (d.url, AD_BASE)        # a DN's commas do not split the list
    mf.run('forest', 'set', 'corp', '--directory', '%s %s' % (dead, with_dn))
    r = mf.run('forest', 'discover', 'corp')
    c.check(r.rc == 0 and counts(r.out) == (0, 0, 0, AD_TOTAL) and ('directory server %s,' % with_dn) in r.out,
            'first URL a dead port, second the real slapd: discovery works and names the one that answered', r)
    chk = mf.run('forest', 'check', 'corp')
    c.check(any('directory' in l and ('bound to %s as' % with_dn) in l and ('%s did not answer' % dead) in l
                for l in chk.out.splitlines()),
            'forest check binds through the second URL too', chk)
    mf.write_password_file('bind', 'wrong-password')
    mf.run('forest', 'set', 'corp', '--directory', '%s %s' % (d.url, dead))
    r = mf.run('forest', 'discover', 'corp')
    c.check(r.rc == 77 and BIND_DN in r.err and dead not in r.err,
            'a refused bind does not move on to the next server (same for every replica)', r)
    mf.write_password_file('bind', BIND_PW)
    mf.run('forest', 'set', 'corp', '--directory', '%s %s' % (dead, dead2))
    r = mf.run('forest', 'discover', 'corp')
    c.check(r.rc == 75 and dead in r.err and dead2 in r.err and 'none of' in r.err,
            'every server dead: exit 75 naming them all', r)
    c.check(snapshot(store) == snap, 'mailboxes untouched after the failed fail-over')
    mf.run('forest', 'set', 'corp', '--directory', d.url)
    r = mf.run('forest', 'discover', 'corp', '--full')
    c.check(r.rc == 0 and counts(r.out) == (0, 0, 0, AD_TOTAL) and 'full' in r.out,
            'a full run after the failures finds nothing new', r)

    # --- plain LDAP (inetOrgPerson)
    mf.run('forest', 'add', 'plain', '--role', 'source', '--directory', d.url, '--bind-dn', BIND_DN,
           '--bind-password-env', 'MF_BIND', '--base-dn', PLAIN_BASE)
    mf.run('endpoint', 'add', 'plain-imap', 'imap://127.0.0.1:2', '--user', 'admin',
           '--password-file', imap_pw, '--forest', 'plain')
    env = {'MF_BIND': BIND_PW}
    r = mf.run('forest', 'discover', 'plain', env=env)
    c.check(r.rc == 0 and counts(r.out) == (PLAIN_USERS, 0, 0, PLAIN_USERS), 'plain LDAP: every inetOrgPerson', r)
    row = rows(store, 'SELECT m.address, m.display_name, m.site, m.kind FROM mailboxes m JOIN endpoints e '
               "ON e.id=m.endpoint_id WHERE e.name='plain-imap' AND m.login='p03'")
    c.check(row == [('p03@plain.example', 'Élodie 03', 'Lyon', 'user')], 'uid login, mail, site from ou', row)
    pmark = rows(store, "SELECT dir_hwm FROM forests WHERE name='plain'")[0][0] or ''
    c.check(pmark.startswith('ts:'), 'plain LDAP mark is a modifyTimestamp (%s)' % pmark)
    d.modify('dn: uid=p03,ou=People,%s\nchangetype: modify\nreplace: displayName\ndisplayName: Élise\n\n'
             % PLAIN_BASE)
    r = mf.run('forest', 'discover', 'plain', env=env)
    c.check(r.rc == 0 and counts(r.out) == (0, 1, 0, PLAIN_USERS), 'plain LDAP: the change found', r)
    pid = rows(store, "SELECT id FROM mailboxes WHERE login='p04'")
    d.modify('dn: uid=p04,ou=People,%s\nchangetype: modrdn\nnewrdn: uid=p04x\ndeleteoldrdn: 1\n\n' % PLAIN_BASE)
    r = mf.run('forest', 'discover', 'plain', env=env)
    c.check(r.rc == 0 and counts(r.out) == (0, 1, 0, PLAIN_USERS) and '1 renamed' in r.out and
            rows(store, "SELECT id FROM mailboxes WHERE login='p04x'") == pid,
            'plain LDAP: modrdn uid=p04 -> uid=p04x, same entryUUID: the same mailbox renamed', r)

    # --- attribute map
    r = mf.run('forest', 'set', 'plain', '--attr', 'name=cn', '--attr', 'upn=mail')
    lst = mf.run('forest', 'list')
    c.check(r.rc == 0 and any(l.startswith('plain ') and l.endswith(' attrs=name=cn,upn=mail')
                              for l in lst.out.splitlines()),
            'forest set --attr: the map is stored and shown by forest list', (r, lst))
    r = mf.run('forest', 'discover', 'plain', env=env)
    row = rows(store, 'SELECT m.display_name, m.upn FROM mailboxes m JOIN endpoints e '
               "ON e.id=m.endpoint_id WHERE e.name='plain-imap' AND m.login='p03'")
    c.check(r.rc == 0 and 'full' in r.out and counts(r.out) == (0, PLAIN_USERS, 0, PLAIN_USERS) and
            row == [('Person 03', 'p03@plain.example')],
            'a new map makes a full run: name from cn, upn from mail', (r, row))
    for bad, what in (('color=blue', "unknown attribute map field 'color' (login, address, name, site, "
                       'database, key, upn)'), ('login=u id', "'u id' is not an LDAP attribute name"),
                      ('login', 'give FIELD=ATTRIBUTE')):
        r = mf.run('forest', 'set', 'plain', '--attr', bad)
        c.check(r.rc == 78 and 'forest plain' in r.err and what in r.err, '--attr %s refused (78): %s' % (bad, what), r)
    r = mf.run('forest', 'set', 'plain', '--attr', 'name=')
    lst = mf.run('forest', 'list')
    c.check(r.rc == 0 and any(l.startswith('plain ') and l.endswith(' attrs=upn=mail') for l in lst.out.splitlines()),
            'a refused --attr changed nothing; FIELD= removes one field', lst)

    # --- no base DN: the root DSE's (slapd has namingContexts, no defaultNamingContext)
    mf.run('forest', 'add', 'auto', '--role', 'source', '--directory', d.url, '--bind-dn', BIND_DN,
           '--bind-password-env', 'MF_BIND')
    mf.run('endpoint', 'add', 'auto-imap', 'imap://127.0.0.1:3', '--user', 'admin',
           '--password-file', imap_pw, '--forest', 'auto')
    r = mf.run('forest', 'discover', 'auto', env=env)
    both = AD_TOTAL + PLAIN_USERS
    c.check(r.rc == 0 and counts(r.out) == (both, 0, 0, both) and
            "base DN dc=example (from the root DSE's namingContexts)" in r.out,
            'no base DN: the root DSE\'s namingContexts (dc=example) is searched and said so', r)
    row = rows(store, 'SELECT m.site FROM mailboxes m JOIN endpoints e ON e.id=m.endpoint_id '
               "WHERE e.name='auto-imap' AND m.login IN ('u0010', 'p03') ORDER BY m.login")
    c.check(row == [('Lyon',), ('Paris',)], 'sites below the root DSE base: the OU path, ou', row)
    chk = mf.run('forest', 'check', 'auto', env=env)
    c.check('base DN dc=example from the root DSE' in chk.out, 'forest check says where the base DN came from', chk)

    # --- scope by group membership (memberOf)
    mf.run('forest', 'add', 'wave', '--role', 'source', '--directory', d.url, '--bind-dn', BIND_DN,
           '--bind-password-env', 'MF_BIND', '--base-dn', AD_BASE, '--scope', 'group:' + WAVE1)
    mf.run('endpoint', 'add', 'wave-imap', 'imap://127.0.0.1:4', '--user', 'admin',
           '--password-file', imap_pw, '--forest', 'wave')
    r = mf.run('forest', 'discover', 'wave', env=env)
    wave = lambda: [x[0] for x in rows(store, 'SELECT m.login FROM mailboxes m JOIN endpoints e ON '
                                       "e.id=m.endpoint_id WHERE e.name='wave-imap' AND NOT m.vanished "
                                       'ORDER BY 1')]
    c.check(r.rc == 0 and counts(r.out) == (WAVE1_USERS, 0, 0, WAVE1_USERS) and
            wave() == sorted('u%04d' % i if i != 7 else 'u0007-renamed' for i in range(1, WAVE1_USERS + 1)),
            'scope group:DN: only the %d members of the group' % WAVE1_USERS, r)
    # As in AD, membership changes the group, not the user's uSNChanged.
    d.modify('dn: %s\nchangetype: modify\nadd: memberOf\nmemberOf: %s\n\n' % (user_dn(40), WAVE1))
    d.modify('dn: %s\nchangetype: modify\ndelete: memberOf\nmemberOf: %s\n\n' % (user_dn(2), WAVE1))
    r = mf.run('forest', 'discover', 'wave', env=env)
    c.check(r.rc == 0 and counts(r.out) == (1, 0, 1, WAVE1_USERS) and 'incremental' in r.out and
            'u0040' in wave() and 'u0002' not in wave(),
            'incremental: a member added (its uSNChanged unchanged) is read, one removed vanishes', r)

    # --- referrals: never followed; a loop is named, nothing is lost
    loop_dn = 'ou=Loop,%s' % PLAIN_BASE
    d.add_referral(loop_dn, 'ou', 'Loop', '%s/%s' % (d.url, loop_dn))     # refers to itself
    mf.run('forest', 'discover', 'plain', env=env)     # takes the map changed above
    d.delete('uid=p05,ou=People,%s' % PLAIN_BASE)
    snap = snapshot(store)
    r = mf.run('forest', 'discover', 'plain', '--full', env=env)
    c.check(r.rc == 0 and counts(r.out) == (0, 0, 0, PLAIN_USERS - 1) and
            ('1 referrals not followed (the first to %s/%s' % (d.url, loop_dn)) in r.out and
            'nothing marked vanished' in r.out and '(a referral loop)' in r.out,
            'a referral inside the tree: warned, named (a loop), not followed; the run completes', r)
    c.check(snapshot(store) == snap, 'p05, deleted meanwhile, is not marked vanished by the partial run')
    mf.run('forest', 'add', 'loop', '--role', 'source', '--directory', d.url, '--bind-dn', BIND_DN,
           '--bind-password-env', 'MF_BIND', '--base-dn', loop_dn)
    mf.run('endpoint', 'add', 'loop-imap', 'imap://127.0.0.1:6', '--user', 'admin',
           '--password-file', imap_pw, '--forest', 'loop')
    r = mf.run('forest', 'discover', 'loop', env=env)
    c.check(r.rc == 78 and 'referral loop' in r.err and loop_dn in r.err and 'forest loop' in r.err,
            'a base that is a referral back to the same server: exit 78 naming the loop', r)
    c.check(snapshot(store) == snap, 'mailboxes untouched after the referral loop')
    other = 'ldap://127.0.0.2:%d' % free_port()
    d.add_referral('ou=Away,%s' % PLAIN_BASE, 'ou', 'Away', '%s/ou=Away,%s' % (other, PLAIN_BASE))
    mf.run('forest', 'set', 'loop', '--base-dn', 'ou=Away,%s' % PLAIN_BASE)
    r = mf.run('forest', 'discover', 'loop', env=env)
    c.check(r.rc == 78 and ('refers to %s' % other) in r.err and 'not followed' in r.err,
            'a base referred to another server: exit 78 naming it', r)

    # --- matching on a configured attribute: both forests' maps take "key" from cn
    mf.run('forest', 'set', 'plain', '--attr', 'key=cn')
    mf.run('forest', 'add', 'tgt', '--role', 'target', '--directory', d.url, '--bind-dn', BIND_DN,
           '--bind-password-env', 'MF_BIND', '--base-dn', PLAIN_BASE, '--attr', 'key=cn,login=mail')
    mf.run('endpoint', 'add', 'tgt-imap', 'imap://127.0.0.1:7', '--user', 'admin',
           '--password-file', imap_pw, '--forest', 'tgt')
    r1 = mf.run('forest', 'discover', 'plain', env=env)
    r2 = mf.run('forest', 'discover', 'tgt', env=env)
    c.check(r1.rc == 0 and r2.rc == 0 and
            rows(store, "SELECT m.dir_key FROM mailboxes m JOIN endpoints e ON e.id=m.endpoint_id WHERE "
                 "e.name IN ('plain-imap', 'tgt-imap') AND m.login IN ('p03', 'p03@plain.example')") ==
            [('Person 03',), ('Person 03',)], 'key=cn on both forests: the keys are the cn', (r1, r2))
    r = mf.run('forest', 'match', 'plain', 'tgt', '--by', 'login')
    c.check(r.rc == 1 and '0 matched' in r.out, 'logins differ (uid vs mail): nothing matched by login', r)
    r = mf.run('forest', 'match', 'plain', 'tgt', '--by', 'key')
    # p05 was deleted while a referral kept it from being marked vanished in plain.
    c.check(r.rc == 1 and '19 matched, 0 conflicts, 1 unmatched' in r.out and 'unmatched  p05 ' in r.out and
            '; key ' in r.out and
            rows(store, "SELECT count(*) FROM mailboxes WHERE match_key LIKE 'key%'") == [(19,)],
            'forest match --by key: matched on the configured attribute, the unmatched one shows its key', r)

    mf.verbose = 3
    r = mf.run('forest', 'discover', 'plain', env=env)
    mf.verbose = 0
    c.check(r.rc == 0 and 'binding to' in r.err and BIND_PW not in r.err + r.out,
            'a -v -v -v trace does not show the bind password', r)
    c.check(BIND_PW.encode() not in mf.store_bytes(), 'the bind password is in no store file')


if __name__ == '__main__':
    report.main(run)
