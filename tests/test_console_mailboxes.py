#!/usr/bin/python3
"""The console's Mailboxes and Delegation views and the add-to-queue dialog
(ui/view_mailboxes.c, ui/view_delegation.c, ui/queue_dialog.c), driven in a
real terminal (tmux, read back with capture-pane) against a store whose
endpoints are real Dovecot servers.

The mailboxes come from a CSV (login, address, display_name, site, database,
kind, size_bytes, items, folders, delegates) with non-ASCII names; the
delegates column lists who has rights on the mailbox as LOGIN=RIGHTS entries
separated by ";".  It is loaded with `mailferry mailbox import` when the CLI
has that command, else written into the store with sqlite3 (the same rows).

Checks: the list with sizes and statuses; sort by size descending; group by
site with counts; search narrowing at each keystroke; Esc on the dialog
queues nothing; three rows and a group selected, queued with priority, pass,
pre-stage age, start time and "suspend when ready" (a bad date and a
pre-stage age of 0 rejected on screen first), a mailbox already queued
skipped and counted; `mailferry jobs` and the store hold exactly those jobs;
the Delegation view shows the CSV's links and + queues the whole
delegation-linked set with a login template (a bad placeholder rejected
first); the same screens at 80x24.

Run: MAILFERRY=./mailferry python3 tests/test_console_mailboxes.py   (exit 0 pass, 77 skip, 1 fail)
"""

import csv
import os
import re
import shlex
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, fixtures, report, term          # noqa: E402
from mftest.term import tmux, keys, screen, wait_for  # noqa: E402


# login, address, display name, site, database, kind, bytes, items, folders, delegates
MAILBOXES = [
    ('user001', 'zoe@corp.example', 'Zoë Ångström', 'Paris', 'DB01', 'user', 52000000, 1200, 14, ''),
    ('user002', 'taro@corp.example', '山田太郎', 'Tokyo', 'DB02', 'user', 1500000000, 30000, 40, ''),
    ('user003', 'bob@corp.example', 'Bob Smith', 'Paris', 'DB01', 'user', 7000000, 300, 8, ''),
    ('user004', 'ceo@corp.example', 'Ana Müller', 'Berlin', 'DB03', 'user', 3200000000, 41000, 55,
     'user005=FullAccess'),
    ('user005', 'assist@corp.example', 'Ólafur Þórsson', 'Berlin', 'DB03', 'user', 900000000, 9000, 20,
     'user006=SendAs'),
    ('user006', 'room@corp.example', 'Salle 会議室', 'Berlin', 'DB04', 'room', 100000, 4, 2, ''),
    ('user007', 'support@corp.example', 'Support', 'Tokyo', 'DB02', 'shared', 800000000, 20000, 30, ''),
    ('user008', 'zz@corp.example', 'Zed', 'Paris', 'DB01', 'user', 2000000, 90, 5, ''),
    ('user009', 'lab@corp.example', 'Lab Gerät', 'Zürich', 'DB05', 'equipment', 500000, 12, 3, ''),
]






def row(text, login):
    """The screen line of a mailbox (its login cell), '' when not shown."""
    for line in text.splitlines():
        if re.match(r'^[* ] %s\b' % login, line):
            return line
    return ''


def rows(text):
    """Logins of the mailbox rows shown, top to bottom."""
    return [m.group(1) for m in (re.match(r'^[* ] (user\d{3})\b', ln) for ln in text.splitlines()) if m]


def status_line(text):
    lines = text.splitlines()
    return lines[-1] if lines else ''


def write_csv(path):
    with open(path, 'w', newline='', encoding='utf-8') as f:
        w = csv.writer(f)
        w.writerow(['login', 'address', 'display_name', 'site', 'database', 'kind', 'size_bytes',
                    'items', 'folders', 'delegates'])
        for m in MAILBOXES:
            w.writerow(m)


def seed_sqlite(store, path):
    """The CSV's rows straight into the store (schema v2), for a CLI without
    `mailbox import`; the store's triggers keep the revisions."""
    db = sqlite3.connect(store)
    src = db.execute("SELECT id FROM endpoints WHERE name='src'").fetchone()[0]
    with open(path, newline='', encoding='utf-8') as f:
        recs = list(csv.DictReader(f))
    for r in recs:
        db.execute('INSERT INTO mailboxes(endpoint_id, login, address, display_name, site, database, kind,'
                   ' size_bytes, items, folders) VALUES(?,?,?,?,?,?,?,?,?,?)',
                   (src, r['login'], r['address'], r['display_name'], r['site'], r['database'], r['kind'],
                    int(r['size_bytes']), int(r['items']), int(r['folders'])))
    ids = dict(db.execute('SELECT login, id FROM mailboxes WHERE endpoint_id=?', (src,)))
    for r in recs:
        for entry in filter(None, r['delegates'].split(';')):
            who, _, rights = entry.partition('=')
            db.execute("INSERT INTO delegates(mailbox_id, delegate_id, rights, origin) VALUES(?,?,?,'csv')",
                       (ids[r['login']], ids[who], rights))
    db.commit()
    db.close()


def seed_forests(store):
    """Source and target forests holding the two endpoints (the CLI has no
    forest commands yet)."""
    db = sqlite3.connect(store)
    now = int(time.time())
    for name, role, ep in (('corp', 'source', 'src'), ('cloud', 'target', 'dst')):
        db.execute('INSERT INTO forests(name, role, created) VALUES(?,?,?)', (name, role, now))
        db.execute('UPDATE endpoints SET forest_id=(SELECT id FROM forests WHERE name=?) WHERE name=?', (name, ep))
    db.commit()
    db.close()


def jobs_in_store(store):
    db = sqlite3.connect('file:%s?mode=ro' % store, uri=True, timeout=10)
    try:
        return db.execute('SELECT p.src_user, p.dst_user, j.priority, j.pass, j.prestage_days,'
                          ' coalesce(j.start_after, 0), j.suspend_ready, j.notify_user, j.state'
                          ' FROM jobs j JOIN pairs p ON p.id=j.pair_id ORDER BY j.id').fetchall()
    finally:
        db.close()


def start_console(mf, sock, w, h):
    wrapper = os.path.join(mf.dir, 'console.sh')
    with open(wrapper, 'w') as f:
        for k, v in mf.env().items():
            # tmux sets TERM for its own keys (Home, End, Tab): not the caller's.
            if k.isidentifier() and k not in ('TERM', 'TMUX', 'TMUX_PANE'):
                f.write('export %s=%s\n' % (k, shlex.quote(v)))
        f.write('exec %s console --no-engine\n' % ' '.join(map(shlex.quote, mf.argv([]))))
    tmux(sock, 'new-session', '-d', '-s', 'mf', '-x', str(w), '-y', str(h), 'sh ' + shlex.quote(wrapper))


def check_list(c, sock):
    keys(sock, '2')
    ok, text = wait_for(sock, lambda t: 'Mailboxes of all forests' in t and len(rows(t)) == 9)
    c.check(ok, 'key 2 opens Mailboxes with the 9 imported mailboxes', text)
    c.check('Zoë Ångström' in row(text, 'user001') and '山田太郎' in row(text, 'user002'),
            'non-ASCII display names shown', text)
    c.check(re.search(r'user002\s+山田太郎\s+Tokyo\s+DB02\s+1\.5 GB\s+30,000 not queued', text) and
            re.search(r'user004\s+Ana Müller\s+Berlin\s+DB03\s+3\.2 GB\s+41,000 not queued\s+1\b', text),
            'rows show site, database, size, items, status and delegates', text)
    c.check(re.search(r'user008 .* 2\.0 MB\s+90 queued', text), 'user008 (queued by the CLI) shows "queued"', text)


def check_sort_group_search(c, sock):
    keys(sock, 's')
    ok, text = wait_for(sock, lambda t: 'Sort by' in t)
    keys(sock, '5')                                     # SIZE, ascending
    keys(sock, 's', '5')                                # again: descending
    ok, text = wait_for(sock, lambda t: 'sorted by SIZE, descending' in t)
    c.check(ok and rows(text) == ['user004', 'user002', 'user005', 'user007', 'user001', 'user003',
                                  'user008', 'user009', 'user006'] and 'SIZE▼' in text,
            'sort by size descending: the biggest (3.2 GB) first, the smallest last', text)
    keys(sock, 'g')
    ok, text = wait_for(sock, lambda t: 'Group by' in t and 'SITE' in t)
    keys(sock, '2')                                     # the first groupable column: SITE
    ok, text = wait_for(sock, lambda t: 'grouped by SITE' in t)
    lines = [ln.strip() for ln in text.splitlines()]
    c.check(ok and lines[3] == '▸ SITE: Berlin (3)' and '▸ SITE: Paris (3)' in lines and
            '▸ SITE: Tokyo (2)' in lines and '▸ SITE: Zürich (1)' in lines and
            rows(text) == ['user004', 'user005', 'user006', 'user001', 'user003', 'user008', 'user002', 'user007',
                           'user009'],
            'group by site: group lines with counts, sizes descending inside each', text)
    keys(sock, '/', 'z')
    ok, text = wait_for(sock, lambda t: status_line(t).startswith('/z') and
                        sorted(rows(t)) == ['user001', 'user008', 'user009'])
    c.check(ok, 'search "z" narrows at once to Zoë, zz@ and the Zürich site (user001, user008, user009)', text)
    keys(sock, 'o')
    ok, text = wait_for(sock, lambda t: status_line(t).startswith('/zo') and rows(t) == ['user001'])
    c.check(ok and '▸ SITE: Paris (1)' in text and 'Tokyo' not in text.split('\n', 3)[3],
            'search "zo" narrows to user001 alone, its group line counting 1', text)
    keys(sock, 'Escape')
    ok, text = wait_for(sock, lambda t: 'search cleared' in t and len(rows(t)) == 9)
    c.check(ok, 'Esc clears the search: all 9 back', text)


def check_cancel(c, sock, mf):
    keys(sock, 'Home', 'Down', 'Enter')                 # user004 under the cursor
    ok, text = wait_for(sock, lambda t: 'Add to migration queue' in t)
    c.check(ok and 'Queue user004 (Ana Müller): 1 job.' in text and '< dst >' in text and
            '< same login >' in text and re.search(r'Priority\s+100\b', text),
            'Enter opens the dialog for the mailbox under the cursor, target endpoint dst', text)
    keys(sock, 'Escape')
    ok, text = wait_for(sock, lambda t: 'nothing queued' in t and 'Add to migration' not in t)
    c.check(ok and len(jobs_in_store(mf.store)) == 1, 'Esc closes the dialog; nothing queued', text)


def check_queue_selection(c, sock, mf):
    # Paris group: user001, user003, user008 (already queued); then the Tokyo group line.
    keys(sock, 'Home')
    for _ in range(5):
        keys(sock, 'Down')
    keys(sock, 'Space', 'Space', 'Space', 'Space')
    ok, text = wait_for(sock, lambda t: '5 selected' in status_line(t))
    c.check(ok and all(row(text, u).startswith('*') for u in ('user001', 'user003', 'user008', 'user002',
                                                             'user007')) and
            not row(text, 'user004').startswith('*'),
            'Space selects three rows, and on the Tokyo group line its two rows: "5 selected"', text)
    keys(sock, '+')
    ok, text = wait_for(sock, lambda t: 'Add to migration queue' in t)
    c.check(ok and 'Queue 5 selected mailboxes: 4 jobs (1 already in the queue, skipped).' in text,
            '+ opens the dialog for the selection, counting the one already queued', text)
    keys(sock, 'Tab', 'Tab', 'C-u', '7', 'Tab', '2026-02-30 10:00', 'Tab', 'Space', 'Space')
    ok, text = wait_for(sock, lambda t: '< prestage >' in t and 'Pre-stage age (days)' in t)
    c.check(ok, 'choosing the prestage pass shows the pre-stage age field', text)
    keys(sock, 'Tab', 'C-u', '0', 'Tab', 'Space', 'Tab', 'Tab', 'Enter')
    ok, text = wait_for(sock, lambda t: 'Start time: 2026-02-30 is not a date' in t)
    c.check(ok and len(jobs_in_store(mf.store)) == 1, 'OK with 2026-02-30 is refused with the message', text)
    keys(sock, 'C-u', '2031-05-17 21:45', 'Tab', 'Tab', 'Tab', 'Tab', 'Tab', 'Enter')
    ok, text = wait_for(sock, lambda t: 'Pre-stage age (days): must be a whole number from 1 to 3650' in t)
    c.check(ok and len(jobs_in_store(mf.store)) == 1, 'a pre-stage age of 0 is refused with the message', text)
    keys(sock, 'C-u', '60', 'Tab', 'Tab', 'Tab', 'Enter')
    ok, text = wait_for(sock, lambda t: 'jobs queued' in t)
    c.check(ok and '4 jobs queued (first id 2); 1 already queued, skipped' in status_line(text),
            'OK: "4 jobs queued (first id 2); 1 already queued, skipped"', text)
    ok, text = wait_for(sock, lambda t: all(' queued ' in row(t, u) for u in ('user001', 'user002', 'user003',
                                                                                'user007')))
    c.check(ok and 'not queued' in row(text, 'user004') and 'selected' not in text.splitlines()[1],
            'the rows now say queued (others still not queued); selection cleared', text)
    r = mf.run('jobs')
    listed = sorted(re.findall(r'queued\s+(\S+)\s+src:(user\d+) -> dst:(user\d+)', r.out))
    c.check(r.rc == 0 and listed == [('full', 'user008', 'user008'), ('prestage', 'user001', 'user001'),
                                     ('prestage', 'user002', 'user002'), ('prestage', 'user003', 'user003'),
                                     ('prestage', 'user007', 'user007')],
            '`mailferry jobs` lists exactly those four prestage jobs besides the earlier one', r)
    start = int(time.mktime(time.strptime('2031-05-17 21:45', '%Y-%m-%d %H:%M')))
    new = [j for j in jobs_in_store(mf.store) if j[0] != 'user008']
    c.check(len(new) == 4 and all(j[2:8] == (7, 'prestage', 60, start, 1, 0) for j in new),
            'in the store: priority 7, pre-stage 60 days, start 2031-05-17 21:45, suspend on, notify off', new)


def check_delegation(c, sock, mf):
    keys(sock, '8')
    ok, text = wait_for(sock, lambda t: 'Delegation in all forests: 2 links among 3 mailboxes' in t)
    c.check(ok, 'key 8 opens Delegation: 2 links among 3 mailboxes', text)
    c.check(re.search(r'user004\s+Ana Müller\s+user005\s+Ólafur Þórs\S*\s+FullAccess\s+neither', text) and
            re.search(r'user005\s+Ólafur Þórs\S*\s+user006\s+Salle 会議室\s+SendAs\s+neither', text),
            'the CSV\'s delegations, with rights, neither side queued yet', text)
    keys(sock, 'End', '+')
    ok, text = wait_for(sock, lambda t: 'Add to migration queue' in t)
    c.check(ok and 'Queue the delegation set of user005 (3 mailboxes): 3 jobs.' in text,
            '+ on a link opens the dialog for the whole linked set (3 mailboxes)', text)
    keys(sock, 'Tab', 'Space', 'Space')
    ok, text = wait_for(sock, lambda t: '< template >' in t and 'Login template' in t)
    keys(sock, 'Tab', 'C-u', '%q@new.example')
    for _ in range(6):
        keys(sock, 'Tab')
    keys(sock, 'Enter')
    ok, text = wait_for(sock, lambda t: 'Login template: unknown placeholder "%q"' in t)
    c.check(ok, 'a login template with an unknown placeholder is refused', text)
    keys(sock, 'C-u', '%p@new.example', 'Tab', 'C-u', '3')
    for _ in range(5):
        keys(sock, 'Tab')
    keys(sock, 'Enter')
    ok, text = wait_for(sock, lambda t: '3 jobs queued (first id 6)' in t)
    c.check(ok, 'OK queues the set: "3 jobs queued (first id 6)"', text)
    ok, text = wait_for(sock, lambda t: t.count('both queued') == 2)
    c.check(ok, 'both links now say "both queued"', text)
    new = [j[:4] for j in jobs_in_store(mf.store)[5:]]
    c.check(new == [('user004', 'ceo@new.example', 3, 'full'), ('user005', 'assist@new.example', 3, 'full'),
                    ('user006', 'room@new.example', 3, 'full')],
            'the store has the three jobs, target logins from the template "%p@new.example"', new)
    keys(sock, '+')
    ok, text = wait_for(sock, lambda t: 'all already in the queue' in status_line(t))
    c.check(ok and 'Add to migration' not in text, '+ again: refused, all already in the queue', text)


def check_small_screen(c, sock, mf):
    tmux(sock, 'resize-window', '-t', 'mf', '-x', '80', '-y', '24', check=False)
    keys(sock, '2')
    ok, text = wait_for(sock, lambda t: len(rows(t)) == 9 and max(map(len, t.splitlines())) <= 80)
    c.check(ok and re.search(r'user002\s+山田太郎\s+Tokyo\s+DB02\s+1\.5 GB\s+30,000 queued\s+0$',
                             row(text, 'user002')),
            '80x24: the rows fit, cut after the delegates column', text)
    keys(sock, ':', 'filter not queued', 'Enter')
    ok, text = wait_for(sock, lambda t: rows(t) == ['user009'] and 'showing not queued: 1' in status_line(t))
    c.check(ok, ':filter not queued leaves user009 alone', text)
    keys(sock, ':', 'forest cloud', 'Enter')
    ok, text = wait_for(sock, lambda t: 'Mailboxes of cloud' in t and 'No mailboxes' in t)
    c.check(ok and not rows(text), ':forest cloud: the target forest has no mailboxes yet', text)
    keys(sock, 'F')
    ok, text = wait_for(sock, lambda t: 'forest: corp (source)' in t)
    keys(sock, 'Down', 'Down', 'Enter')
    ok, text = wait_for(sock, lambda t: 'Mailboxes of corp' in t and rows(t) == ['user009'])
    c.check(ok, 'F then corp in the menu: back to the source forest', text)
    keys(sock, 'End', '+')
    ok, text = wait_for(sock, lambda t: 'Add to migration queue' in t)
    lines = text.splitlines()
    c.check(ok and 'Queue user009 (Lab Gerät): 1 job.' in text and any('[ OK ] [ Cancel ]' in ln for ln in lines) and
            any('Notify user' in ln for ln in lines) and len(lines) <= 24,
            '80x24: the dialog fits with every field and its buttons', text)
    keys(sock, 'Tab', 'Tab', 'Tab', '2020-01-01 08:00', 'Tab', 'Tab', 'Tab', 'Tab', 'Enter')
    ok, text = wait_for(sock, lambda t: '1 job queued (id 9)' in t)
    c.check(ok and 'the start time is past, so they start now' in status_line(text),
            'a start time in the past is taken as now, with a note', text)
    last = jobs_in_store(mf.store)[-1]
    c.check(last[0] == 'user009' and last[5] == 0, 'in the store: user009 with no start time (now)', last)


def main(c):
    fixtures.require()
    term.require()
    mf = cli.Mailferry()
    sock = 'mfmbx%d' % os.getpid()
    try:
        with fixtures.pair(checks=c) as (src, dst):
            mf.endpoint_add('src', src)
            mf.endpoint_add('dst', dst)
            seed_forests(mf.store)
            path = os.path.join(mf.dir, 'mailboxes.csv')
            write_csv(path)
            r = mf.run('mailbox', 'import', path, '--endpoint', 'src')
            if r.rc == 0:
                c.info('mailboxes imported with mailferry mailbox import')
            else:
                c.info('no `mailbox import` in this CLI (%s): rows written with sqlite3'
                       % (r.err.strip().splitlines() or ['?'])[-1])
                seed_sqlite(mf.store, path)
            r = mf.run('queue', 'src', 'dst', 'user008')
            c.check(r.rc == 0, 'user008 queued beforehand with the CLI', r)
            start_console(mf, sock, 100, 30)
            ok, text = wait_for(sock, lambda t: 'engine off' in t, 20)
            c.check(ok, 'console starts', text)
            check_list(c, sock)
            check_sort_group_search(c, sock)
            check_cancel(c, sock, mf)
            check_queue_selection(c, sock, mf)
            check_delegation(c, sock, mf)
            check_small_screen(c, sock, mf)
            keys(sock, 'q')
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and tmux(sock, 'has-session', '-t', 'mf', check=False).returncode == 0:
                time.sleep(0.2)
            c.check(tmux(sock, 'has-session', '-t', 'mf', check=False).returncode != 0, 'q quits the console')
            c.check(mf.store_integrity() == 'ok', 'store integrity ok')
    finally:
        tmux(sock, 'kill-server', check=False)
        # The server leaves its socket file behind.
        path = os.path.join(os.environ.get('TMUX_TMPDIR') or '/tmp', 'tmux-%d' % os.getuid(), sock)
        if os.path.exists(path):
            os.unlink(path)
        mf.cleanup()


if __name__ == '__main__':
    report.main(main, 'test_console_mailboxes')
