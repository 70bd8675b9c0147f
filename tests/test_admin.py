#!/usr/bin/python3
"""Administration commands that only touch the store (no server needed):
forests, endpoints in forests, mailbox import from CSV (quoted commas, doubled
quotes, non-ASCII names, delegates; a malformed line names FILE:LINE and stores
nothing), mailbox list, blackout times, queue scheduling options and job show,
pause/resume of queued jobs.

Run: MAILFERRY=src/mailferry python3 tests/test_admin.py   (exit 0 pass, 77 skip, 1 fail)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, fixtures, report     # noqa: E402

GOOD_CSV = (
    'login,address,display_name,site,database,kind,size_bytes,items,folders,delegates\n'
    'alice,alice@corp.example,"Smith, Ann ""Annie""",Paris,DB01,user,1048576,120,7,bob;carol\n'
    'bob,bob@corp.example,Björk Guðmundsdóttir,Paris,DB01,user,,,,\n'
    'carol,carol@corp.example,Carol,Lyon,DB02,shared,2048,3,1,\n'
    'room1,room1@corp.example,"Salle, 3e étage",Lyon,DB02,room,0,0,1,\n')


def write(mf, name, text):
    path = os.path.join(mf.dir, name)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


def main(c):
    cli.require_binary()
    mf = cli.Mailferry()
    try:
        run_checks(c, mf)
    finally:
        mf.cleanup()


def run_checks(c, mf):
    pwf = mf.write_password_file('pw', 'secret')

    # ------------------------------------------------------------ forests
    r = mf.run('forest', 'add', 'corp-new', '--role', 'target')
    c.check(r.rc == 0, 'forest add corp-new --role target', r)
    r = mf.run('forest', 'add', 'other', '--role', 'target')
    c.check(r.rc == 78 and 'there is already a target forest, corp-new' in r.err and
            fixtures.one_line_error(r), 'a second target forest: exit 78, names the first', r)
    r = mf.run('forest', 'add', 'corp-old', '--role', 'source', '--directory', 'ldaps://dc1.corp',
               '--bind-dn', 'CN=svc,DC=corp', '--base-dn', 'DC=corp', '--filter', '(mail=*)')
    c.check(r.rc == 0, 'forest add corp-old --role source with a directory', r)
    r = mf.run('forest', 'add', 'x', '--role', 'boss')
    c.check(r.rc == 78 and 'role' in r.err, 'unknown role: exit 78', r)
    r = mf.run('forest', 'add', 'x')
    c.check(r.rc == 64, 'forest add without --role: exit 64', r)
    r = mf.run('forest', 'list')
    c.check(r.rc == 0 and 'corp-new' in r.out and 'ldaps://dc1.corp' in r.out, 'forest list', r)

    # ------------------------------------------------------------ endpoints in forests
    r = mf.run('endpoint', 'add', 'src', 'imap://127.0.0.1:1', '--user', 'admin',
               '--password-file', pwf, '--forest', 'corp-old')
    c.check(r.rc == 0, 'endpoint add src --forest corp-old', r)
    r = mf.run('endpoint', 'add', 'dst', 'imap://127.0.0.1:2', '--user', 'admin',
               '--password-file', pwf, '--forest', 'corp-new')
    c.check(r.rc == 0, 'endpoint add dst --forest corp-new', r)
    r = mf.run('endpoint', 'add', 'bad', 'imap://127.0.0.1:3', '--user', 'admin',
               '--password-file', pwf, '--forest', 'nope')
    c.check(r.rc == 78 and 'nope' in r.err, 'endpoint add --forest of an unknown forest: exit 78', r)

    # ------------------------------------------------------------ mailbox import
    good = write(mf, 'good.csv', GOOD_CSV)
    r = mf.run('mailbox', 'import', good, '--endpoint', 'src')
    c.check(r.rc == 0 and '4 mailboxes' in r.out and '2 delegations' in r.out,
            'mailbox import: 4 mailboxes, 2 delegations', r)
    r = mf.run('mailbox', 'list')
    c.check(r.rc == 0 and 'Smith, Ann "Annie"' in r.out, 'quoted comma and doubled quotes kept', r)
    c.check('Björk Guðmundsdóttir' in r.out and 'Salle, 3e étage' in r.out,
            'non-ASCII display names kept', r)
    alice = [l for l in r.out.splitlines() if ' alice ' in l]
    c.check(alice and '2 delegates' in alice[0] and 'Paris' in alice[0] and '120' in alice[0],
            'alice: site, items and 2 delegates', r)
    r = mf.run('mailbox', 'list', '--forest', 'corp-new')
    c.check(r.rc == 0 and r.out.strip() == '', 'no mailboxes in the target forest', r)
    r = mf.run('mailbox', 'list', '--forest', 'corp-old')
    c.check(r.rc == 0 and len(r.out.splitlines()) == 4, 'four in the source forest', r)

    before = mf.run('mailbox', 'list').out
    bad_cases = [
        ('fields.csv', 'login,kind\nzed,user\nyan,user,extra\n', ':3:', 'a line with too many fields'),
        ('quote.csv', 'login,display_name\nzed,"never closed\n', ':2:', 'an unclosed quote'),
        ('kind.csv', 'login,kind\nzed,user\nyan,robot\n', ':3:', 'an unknown kind'),
        ('number.csv', 'login,size_bytes\nzed,12\nyan,12MB\n', ':3:', 'a size that is not a number'),
        ('column.csv', 'login,colour\nzed,red\n', ':1:', 'an unknown column'),
        ('delegate.csv', 'login,delegates\nzed,nobody\n', ':2:', 'an unknown delegate'),
        ('nologin.csv', 'login,kind\n,user\n', ':2:', 'an empty login'),
    ]
    for name, text, where, what in bad_cases:
        path = write(mf, name, text)
        r = mf.run('mailbox', 'import', path, '--endpoint', 'src')
        c.check(r.rc == 78 and (name + where) in r.err and fixtures.one_line_error(r),
                'malformed CSV (%s): exit 78, "%s%s ..."' % (what, name, where), r)
    after = mf.run('mailbox', 'list').out
    c.check(after == before and 'zed' not in after,
            'nothing from a malformed file is stored (not even its good lines)', after)
    rights = write(mf, 'rights.csv', 'login,delegates\nmia,\nnoah,mia=SendAs+FullAccess;alice\n')
    r = mf.run('mailbox', 'import', rights, '--endpoint', 'src')
    c.check(r.rc == 0 and '2 delegations' in r.out, 'delegates with rights: LOGIN=RIGHTS', r)
    import sqlite3
    db = sqlite3.connect(mf.store)
    got = sorted(db.execute("SELECT g.login, coalesce(d.rights, '') FROM delegates d "
                            "JOIN mailboxes m ON m.id=d.mailbox_id JOIN mailboxes g ON g.id=d.delegate_id "
                            "WHERE m.login='noah'").fetchall())
    db.close()
    c.check(got == [('alice', ''), ('mia', 'SendAs+FullAccess')], 'rights stored per delegate: %s' % got)
    r = mf.run('mailbox', 'import', os.path.join(mf.dir, 'absent.csv'), '--endpoint', 'src')
    c.check(r.rc == 78 and 'absent.csv' in r.err, 'missing file: exit 78', r)
    r = mf.run('mailbox', 'import', good)
    c.check(r.rc == 64 and '--endpoint' in r.err, 'two endpoints and no --endpoint: exit 64', r)

    # ------------------------------------------------------------ blackouts
    r = mf.run('blackout', 'add', 'month end', '--start', '2026-01-30 18:00', '--end',
               '2026-02-01 08:00', '--tz', 'Europe/Paris', '--site', 'Paris', '--weekly')
    c.check(r.rc == 0 and 'blackout 1 added' in r.out, 'blackout add (zone, site, weekly)', r)
    r = mf.run('blackout', 'add', 'ceo', '--start', '2026-03-01 00:00', '--end', '2026-03-02 00:00',
               '--mailbox', 'alice')
    c.check(r.rc == 0, 'blackout add for one mailbox', r)
    r = mf.run('blackout', 'list')
    c.check(r.rc == 0 and '2026-01-30 18:00' in r.out and 'Europe/Paris' in r.out and
            'mailbox=alice' in r.out and 'weekly' in r.out, 'blackout list, times in their zone', r)
    for args, needle, what in (
            (['--start', '2026-01-02 10:00', '--end', '2026-01-02 09:00'], 'end', 'end before start'),
            (['--start', '2026-01-02 10:00', '--end', '2026-01-02 11:00', '--tz', 'Mars/Base'],
             'time zone', 'unknown zone'),
            (['--start', '2026-01-02 10:00', '--end', '2026-01-02 11:00', '--mailbox', 'nobody'],
             'nobody', 'unknown mailbox')):
        r = mf.run('blackout', 'add', 'bad', *args)
        c.check(r.rc == 78 and needle in r.err, 'blackout add with %s: exit 78' % what, r)
    r = mf.run('blackout', 'add', 'bad', '--start', 'tomorrow', '--end', '2026-01-02 11:00')
    c.check(r.rc == 64, 'blackout add with a bad date: exit 64', r)
    r = mf.run('blackout', 'remove', '1')
    r2 = mf.run('blackout', 'list')
    c.check(r.rc == 0 and 'month end' not in r2.out and 'ceo' in r2.out, 'blackout remove 1', (r, r2))
    r = mf.run('blackout', 'remove', '1')
    c.check(r.rc == 78, 'removing it again: exit 78', r)

    # ------------------------------------------------------------ queue options, job show
    r = mf.run('queue', 'src', 'dst', 'alice', '--start-at', '2031-05-04 03:00',
               '--suspend-when-ready', '--notify-user')
    c.check(r.rc == 0 and 'job 1 queued' in r.out and '2031-05-04 03:00' in r.out,
            'queue with --start-at, --suspend-when-ready, --notify-user', r)
    r = mf.run('queue', 'src', 'dst', 'zoe', '--start-at', 'soon')
    c.check(r.rc == 64, 'queue with a bad --start-at: exit 64', r)
    r = mf.run('job', 'show', '1')
    c.check(r.rc == 0 and 'start after 2031-05-04 03:00' in r.out and
            'suspend when ready: yes' in r.out and 'notify user: yes' in r.out and
            'src:alice -> dst:alice' in r.out and '120 messages' in r.out,
            'job show: schedule, options and the source size', r)
    r = mf.run('job', 'show', '7')
    c.check(r.rc == 78 and '7' in r.err, 'job show of an unknown job: exit 78', r)
    r = mf.run('run')
    c.check(r.rc == 0 and mf.run('job', 'show', '1').out.startswith('job 1: queued'),
            'run does not start a job before its --start-at', r)
    r = mf.run('mailbox', 'list')
    c.check(any(' alice ' in l and 'queued' in l for l in r.out.splitlines()),
            'the queued job shows in the mailbox status', r)

    r = mf.run('pause', '1')
    c.check(r.rc == 0 and 'job 1 paused' in r.out, 'pause of a queued job', r)
    r = mf.run('job', 'show', '1')
    c.check('job 1: paused' in r.out and 'paused by    admin' in r.out and 'paused by admin' in r.out,
            'job show: paused by admin, with the event', r)
    r = mf.run('resume', '1')
    c.check(r.rc == 0 and 'resumed' in r.out, 'resume 1', r)
    r = mf.run('resume', '1')
    c.check(r.rc == 78 and 'not paused' in r.err and fixtures.one_line_error(r),
            'resume of a non-paused job: exit 78 with the reason', r)

    # ------------------------------------------------------------ forest remove
    r = mf.run('forest', 'remove', 'corp-new', '--yes')
    c.check(r.rc == 78 and "the target forest can't be deleted" in r.err, 'the target forest stays', r)
    r = mf.run('forest', 'remove', 'corp-old')
    c.check(r.rc == 64 and '--yes' in r.err, 'forest remove without --yes: refused (64)', r)
    r = mf.run('forest', 'remove', 'corp-old', '--yes')
    c.check(r.rc == 0, 'forest remove corp-old --yes', r)
    c.check(mf.run('mailbox', 'list').out.strip() == '' and
            mf.run('jobs', '--all').out.strip() == '' and
            'src' not in mf.run('endpoint', 'list').out,
            'its endpoints, mailboxes and jobs are gone')
    c.check(mf.store_integrity() == 'ok', 'store integrity_check ok')


if __name__ == '__main__':
    report.main(main, 'test_admin')
