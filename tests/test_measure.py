#!/usr/bin/python3
"""mailbox measure against real Dovecot servers: folders, messages and sizes
from STATUS (MESSAGES SIZE), the quota when STATUS=SIZE is not offered, and
delegate links from IMAP ACLs (RFC 4314).

  * the corpus mailbox and 22 bulk mailboxes: the store gets exactly the
    folders, messages and bytes an independent FETCH of every message finds
    (and the corpus manifest's totals);
  * ACLs: "lr" for a known user on INBOX and "lrs" on another folder become
    delegate links with origin acl (in the store and in `mailbox list`);
    an unknown identifier is reported; "l" alone, "anyone" and the owner are
    not delegates; a link learnt from a CSV is left as it was;
  * a login that does not exist on the server is reported (exit 1) and every
    other mailbox is measured;
  * 24 mailboxes through a proxy adding 100 ms of round trip, 20 workers: in
    parallel (the run takes a fraction of the sum of the mailboxes' times);
    a mailbox with 36 folders takes well under 3 round trips more than one
    with 6 (one STATUS round trip, not one per folder);
  * a server without STATUS=SIZE but with QUOTA: the size comes from the quota
    (KiB) and the output says so.

Run: MAILFERRY=$PWD/mailferry MF_SRCDIR=$PWD PYTHONPATH=$PWD/tests python3 tests/test_measure.py
(exit 0 pass, 77 skip, 1 fail)
"""

import os
import re
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, corpus, fixtures, imapcheck, report   # noqa: E402
from mftest.dovecot import Dovecot                          # noqa: E402
from mftest.proxy import Proxy, Via                         # noqa: E402

USERS = 26
BULK = ['user%03d' % i for i in range(2, 24)]          # user002 .. user023
WIDE, NARROW = 'user024', 'user025'                     # 36 folders, 6 folders
GHOST = 'nosuchuser'
LINE_RE = re.compile(r'^(\S+)@(\S+)\s+folders=(\d+) messages=(\d+) size=(-?\d+) \(.*?\) '
                     r'source=(\w+)(.*?) time=([\d.]+)s$', re.M)


def parse(out):
    """{login: dict} from the per-mailbox lines of mailbox measure."""
    got = {}
    for m in LINE_RE.finditer(out):
        rest = m.group(7)
        dm = re.search(r'delegates=(\S+)', rest)
        um = re.search(r'unknown=(\S+)', rest)
        got[m.group(1)] = {
            'endpoint': m.group(2), 'folders': int(m.group(3)), 'messages': int(m.group(4)),
            'size': int(m.group(5)), 'source': m.group(6), 'time': float(m.group(8)),
            'delegates': dm.group(1) if dm else '', 'unknown': um.group(1) if um else '',
        }
    return got


def truth(server, user):
    """(selectable folders, messages, bytes) read independently with imaplib."""
    tree = imapcheck.read_user_tree(server, user, keep_bodies=False)
    folders = sum(1 for f in tree.folders.values() if f.selectable)
    return folders, tree.count(), tree.size()


def imap_cmd(conn, line):
    """Sends one raw command; returns (tagged status line, untagged lines)."""
    tag = conn._new_tag()
    conn.send(tag + b' ' + line.encode() + b'\r\n')
    untagged = []
    while True:
        got = conn.readline()
        if got.startswith(tag):
            return got.decode(errors='replace'), untagged
        untagged.append(got)


def set_acl(server, owner, folder, who, rights):
    conn = imapcheck.connect(server, owner)
    try:
        status, _ = imap_cmd(conn, 'SETACL %s %s %s' % (imapcheck.quote(folder).decode(), who,
                                                     rights))
        assert ' OK ' in status, status
    finally:
        imapcheck.logout(conn)


def write_csv(mf, name, logins, extra=None):
    path = os.path.join(mf.dir, name)
    with open(path, 'w') as f:
        f.write('login,delegates\n')
        for login in logins:
            f.write('%s,%s\n' % (login, (extra or {}).get(login, '')))
    return path


def store_rows(mf, endpoint):
    db = sqlite3.connect(mf.store)
    try:
        rows = db.execute('SELECT m.login, m.size_bytes, m.items, m.folders FROM mailboxes m '
                          'JOIN endpoints e ON e.id=m.endpoint_id WHERE e.name=?', (endpoint,))
        out = {r[0]: r[1:] for r in rows}
        links = db.execute('SELECT o.login, d.login, l.rights, l.origin FROM delegates l '
                           'JOIN mailboxes o ON o.id=l.mailbox_id '
                           'JOIN mailboxes d ON d.id=l.delegate_id '
                           'JOIN endpoints e ON e.id=o.endpoint_id WHERE e.name=?',
                           (endpoint,)).fetchall()
        return out, {(a, b): (r, o) for a, b, r, o in links}
    finally:
        db.close()


def main(c):
    fixtures.require()
    with fixtures.pair(users=USERS, checks=c, src_conf=fixtures.ACL_CONF) as (src, dst):
        mf = cli.Mailferry()
        try:
            fill(c, src)
            exact_checks(c, mf, src)
            parallel_checks(c, mf, src)
            quota_checks(c, mf)
        finally:
            mf.cleanup()


def fill(c, src):
    src.manifest = corpus.fill(src, 'user001', big=False)
    src.bulk = {}
    for i, user in enumerate(BULK):
        folders = ['INBOX'] + ['f%d' % k for k in range(i % 4)]
        src.bulk[user] = corpus.bulk(src, user, 5 + 3 * i, folders=folders, sizes='tiny', seed=i)
    corpus.bulk(src, WIDE, 60, folders=['INBOX'] + ['w%02d' % k for k in range(30)], sizes='tiny')
    corpus.bulk(src, NARROW, 60, sizes='tiny')
    set_acl(src, 'user003', 'INBOX', 'user004', 'lr')
    set_acl(src, 'user003', 'INBOX', 'ghost-user', 'lrs')
    # Dovecot refuses SETACL for anyone: straight into INBOX's ACL file
    acl_file = os.path.join(src.maildir('user003'), 'dovecot-acl')
    with open(acl_file, 'a') as f:
        f.write('anyone lr\n')
    src.chown_mail(acl_file)
    set_acl(src, 'user005', 'f1', 'user006', 'lrs')
    set_acl(src, 'user007', 'INBOX', 'user008', 'l')
    set_acl(src, 'user009', 'INBOX', 'user010', 'lrsw')
    c.info('filled: corpus %s; %d bulk mailboxes' % (src.manifest.summary(), len(BULK)))


def exact_checks(c, mf, src):
    mf.endpoint_add('src', src)
    logins = ['user001'] + BULK + [GHOST]
    # user010 already delegates to user009 according to a CSV: that link stays
    path = write_csv(mf, 'users.csv', logins, {'user009': 'user010=FullAccess'})
    r = mf.run('mailbox', 'import', path, '--endpoint', 'src')
    c.check(r.rc == 0, 'mailbox import of %d logins' % len(logins), r)

    r = mf.run('mailbox', 'measure', '--endpoint', 'src', '--workers', '8')
    got = parse(r.out)
    c.check(r.rc == 1, 'measure with a login the server does not know: exit 1', r)
    c.check(re.search(r'^%s@src\s+FAILED \(authentication failed\)' % GHOST, r.out, re.M),
            'the unknown login is reported with the reason', r)
    c.check(re.search(r'^\s+%s@src: .*login refused' % GHOST, r.out, re.M),
            'the failed mailboxes are listed at the end with the reason', r)
    c.check(len(got) == len(logins) - 1, 'every other mailbox measured (%d of %d)'
            % (len(got), len(logins) - 1), r)
    c.check(re.search(r'^measured %d of %d mailboxes in [\d.]+ s' % (len(logins) - 1, len(logins)),
                      r.out, re.M), 'a total line with the elapsed time', r)
    c.check(src.admin_password not in r.text, 'no password in the output')

    rows, links = store_rows(mf, 'src')
    wrong = []
    for user in ['user001'] + BULK:
        want = truth(src, user)
        have = rows.get(user)
        line = got.get(user, {})
        if have is None or tuple(have) != (want[2], want[1], want[0]) or \
                (line.get('folders'), line.get('messages'), line.get('size')) != want or \
                line.get('source') != 'status':
            wrong.append('%s: want folders/messages/bytes %s, store (bytes, items, folders) %s, '
                         'printed %s' % (user, want, have, line))
    c.check(not wrong, 'store and output hold exactly the folders, messages and bytes FETCH '
            'finds, size source status (%d mailboxes)' % (len(BULK) + 1), '\n'.join(wrong))
    man = src.manifest
    line = got.get('user001', {})
    c.check(line.get('messages') == man.total() and line.get('size') == man.total_bytes(),
            'corpus mailbox: %d messages, %d bytes as the manifest says' % (man.total(),
                                                                          man.total_bytes()),
            line)
    bulk_ok = all(got.get(u, {}).get('messages') == s['messages'] and
                  got.get(u, {}).get('size') == s['bytes'] for u, s in src.bulk.items())
    c.check(bulk_ok, 'bulk mailboxes: messages and bytes as appended',
            lambda: '\n'.join('%s %s %s' % (u, s, got.get(u)) for u, s in src.bulk.items()))
    c.check(rows.get(GHOST) == (None, None, None), 'the failed mailbox keeps unknown sizes',
            rows.get(GHOST))

    # ACL delegation
    c.check(links.get(('user003', 'user004')) == ('lr', 'acl'),
            'lr on INBOX -> delegate link user003 <- user004, rights lr, origin acl', links)
    c.check(links.get(('user005', 'user006')) == ('f1:lrs', 'acl'),
            'lrs on folder f1 -> delegate link with rights f1:lrs', links)
    c.check(('user007', 'user008') not in links, '"l" alone is no delegation', links)
    c.check(links.get(('user009', 'user010')) == ('FullAccess', 'csv'),
            'a link learnt from the CSV is kept as it was', links)
    c.check(re.search(r'user010:l\w*\(kept\)', got.get('user009', {}).get('delegates', '')),
            'the output says the CSV link was kept', got.get('user009'))
    c.check(all(a != 'user003' or b == 'user004' for a, b in links),
            '"anyone", the owner and the unknown identifier make no link', links)
    c.check(got.get('user003', {}).get('unknown') == 'ghost-user:lrs',
            'the unknown identifier is reported', got.get('user003'))
    c.check(got.get('user003', {}).get('delegates') == 'user004:lr',
            'user003 line: delegates=user004:lr', got.get('user003'))
    r = mf.run('mailbox', 'list')
    m = re.search(r'^src\s+user003\s.*?(\d+) delegates', r.out, re.M)
    c.check(m and m.group(1) == '1', 'mailbox list shows user003 with 1 delegate', r)

    # an ACL removed on the server disappears from the store at the next measure
    conn = imapcheck.connect(src, 'user003')
    try:
        status, _ = imap_cmd(conn, 'DELETEACL INBOX user004')
    finally:
        imapcheck.logout(conn)
    r = mf.run('mailbox', 'measure', '--endpoint', 'src', 'user003')
    rows, links = store_rows(mf, 'src')
    c.check(r.rc == 0 and ('user003', 'user004') not in links,
            'measure LOGIN: an ACL removed on the server removes the acl link', r)


def parallel_checks(c, mf, src):
    with Proxy(('127.0.0.1', src.port), delay_ms=50) as p:
        via = Via(src, p)
        mf.endpoint_add('slow', via, extra=['--max-connections', '30'])
        logins = ['user001'] + BULK + [WIDE, NARROW]
        path = write_csv(mf, 'slow.csv', logins)
        r = mf.run('mailbox', 'import', path, '--endpoint', 'slow')
        c.check(r.rc == 0, 'import %d mailboxes on the endpoint behind the proxy' % len(logins), r)

        r = mf.run('mailbox', 'measure', '--endpoint', 'slow', '--workers', '20')
        got = parse(r.out)
        m = re.search(r'^measured (\d+) of (\d+) mailboxes in ([\d.]+) s', r.out, re.M)
        c.check(r.rc == 0 and m and int(m.group(1)) == len(logins) and len(got) == len(logins),
                '%d mailboxes measured through 100 ms of round trip' % len(logins), r)
        if m and got:
            total = float(m.group(3))
            serial = sum(g['time'] for g in got.values())
            c.info('run %.2f s; sum of the mailboxes %.2f s' % (total, serial))
            c.check(total < serial / 5, 'in parallel: the run (%.2f s) takes under a fifth of the '
                    'sum of the mailboxes\' times (%.2f s)' % (total, serial), r)

        # one round trip for all STATUS commands: 36 folders cost about what 6 do
        times = {}
        for user in (NARROW, WIDE, NARROW, WIDE):
            r = mf.run('mailbox', 'measure', '--endpoint', 'slow', '--workers', '1', user)
            g = parse(r.out).get(user)
            if g:
                times.setdefault(user, []).append(g['time'])
                times[user + '-folders'] = g['folders']
        c.check(times.get(NARROW + '-folders') == 6 and times.get(WIDE + '-folders') == 36,
                'the narrow mailbox has 6 folders, the wide one 36', times)
        if times.get(NARROW) and times.get(WIDE):
            narrow, wide = min(times[NARROW]), min(times[WIDE])
            c.info('6 folders: %.2f s, 36 folders: %.2f s (RTT 0.1 s)' % (narrow, wide))
            c.check(wide - narrow < 0.3, '30 more folders cost under 3 round trips (%.2f s), not '
                    '30 (3 s)' % (wide - narrow))


QUOTA_CAPS = ('IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ NAMESPACE UIDPLUS '
              'CHILDREN MULTIAPPEND CONDSTORE SPECIAL-USE LIST-EXTENDED QUOTA')


# a quota root needs a rule (without one Dovecot answers "No quota")
QUOTA_CONF = 'imap_capability = %s\nplugin {\n  quota_rule = *:storage=1G\n}\n' % QUOTA_CAPS


def quota_checks(c, mf):
    # quota plugin (count backend, vsizes) as max_mail_size sets it up; a
    # capability list of our own, without STATUS=SIZE (it replaces Dovecot's
    # whole list, so QUOTA is named too)
    with Dovecot(name='quota', users=2, max_mail_size=50 << 20, advertise_limit=False,
                 extra_conf=QUOTA_CONF) as q:
        conn = imapcheck.connect(q, 'user001')
        caps = imapcheck.capabilities(conn)
        imapcheck.logout(conn)
        c.check('QUOTA' in caps and 'STATUS=SIZE' not in caps,
                'quota server: QUOTA without STATUS=SIZE', caps)
        stats = corpus.bulk(q, 'user001', 40, folders=['INBOX', 'x'], sizes='small')
        mf.endpoint_add('quota', q)
        path = write_csv(mf, 'quota.csv', ['user001'])
        mf.run('mailbox', 'import', path, '--endpoint', 'quota')
        r = mf.run('mailbox', 'measure', '--endpoint', 'quota')
        g = parse(r.out).get('user001', {})
        kib = (stats['bytes'] + 1023) // 1024
        c.check(r.rc == 0 and g.get('source') == 'quota' and g.get('messages') == 40,
                'without STATUS=SIZE: 40 messages, size source quota', r)
        c.check(g.get('size', -1) % 1024 == 0 and abs(g.get('size', 0) - stats['bytes']) <= 1024,
                'size from the quota: %s bytes, whole KiB within 1 KiB of %d' %
                (g.get('size'), stats['bytes']), lambda: '%s (%d KiB)' % (r, kib))


if __name__ == '__main__':
    report.main(main)
