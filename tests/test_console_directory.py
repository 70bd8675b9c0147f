#!/usr/bin/python3
"""The Forests view's background work (ui/forest_tasks.c, ui/task.c), in a
real terminal (tmux): R reads a forest's mailboxes from its directory (a
real slapd) and they show in Mailboxes; H runs the health checks against
the forest's real Dovecot endpoint and lists every check (the server
offers no TLS: a warning with its fix), marks the forest, and a broken
password fails the login check with the fix in the list.  The Add Forest
wizard's scope step shows the directory's OUs as a tree (everything
included at first); Space, Right and Left choose and the forest's scope is
the DNs chosen.  The wizard's connection test goes past a dead directory URL
to one with a DN part and names both; its scope step and the edit dialog
take the attribute map (an unknown field or a bad attribute refused, naming
it), the Accounts tab shows it, and R then reads logins from employeeNumber
(the entries renamed in place).  H with a dead replica first: a warning
naming it with the fix; the directory clock "not checked" (OpenLDAP).

Run: MAILFERRY=./mailferry python3 tests/test_console_directory.py   (0 pass, 77 skip, 1 fail)
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, fixtures, report, slapd, term                # noqa: E402
from mftest.dovecot import free_port                          # noqa: E402
from mftest.dnsmasq import Dnsmasq, have_dnsmasq              # noqa: E402
from mftest.slapd import Slapd                                 # noqa: E402

BIND_DN = 'cn=svc,dc=example'
BIND_PW = 'Bind-Pw-91d2'
BASE = 'dc=corp,dc=example'
CHECK = '\u2713'


def ldif(n):
    out = ['dn: dc=example\nobjectClass: domain\ndc: example\n\n',
           'dn: %s\nobjectClass: person\ncn: svc\nsn: svc\nuserPassword: %s\n\n' % (BIND_DN, BIND_PW),
           'dn: %s\nobjectClass: domain\ndc: corp\n\n' % BASE,
           'dn: ou=People,%s\nobjectClass: organizationalUnit\nou: People\n\n' % BASE]
    for ou in ('ou=Sales', 'ou=HQ', 'ou=EMEA,ou=Sales', 'ou=US,ou=Sales'):
        out.append('dn: %s,%s\nobjectClass: organizationalUnit\nou: %s\n\n' % (ou, BASE, ou.split(',')[0][3:]))
    for i in range(1, n + 1):
        out.append('dn: uid=user%03d,ou=People,%s\nobjectClass: inetOrgPerson\nuid: user%03d\ncn: User %d\n'
                   'sn: U\nmail: user%03d@corp.example\nou: Lyon\nemployeeNumber: E%03d\n\n' % (i, BASE, i, i, i, i))
    return ''.join(out)


def forest_row(text, name):
    for line in text.splitlines()[2:]:
        if (' %s ' % name) in line:
            return line
    return ''


def wizard_detect(c, mf):
    """The wizard's "Auto-detect servers": SRV records fill the mail server
    and the directory, and the base DN comes from the domain."""
    srv = [('_imaps._tcp.west.test', 'mail.west.test', 993, 10, 10),
           ('_imap._tcp.west.test', 'old.west.test', 143, 20, 10),
           ('_gc._tcp.west.test', 'gc.west.test', 3268, 0, 100)]
    with Dnsmasq(srv=srv, hosts=[('mail.west.test', '127.0.0.1')], local=['west.test']) as dns:
        r = mf.run('config', 'set', 'dns_server', dns.server)
        c.check(r.rc == 0, 'dns_server points at the test DNS server', r)
        with term.Term(mf, 'console --no-engine', 110, 32) as t:
            t.wait(lambda s: 'Mailbox Jobs' in s, 20)
            t.keys('1', 'n')
            ok, text = t.wait(lambda s: 'Step 1 of 5' in s, 10)
            t.type('west.test')
            t.keys('Down', 'Down', 'Space', 'Down', 'Down', 'Enter')  # role, auto-detect on, Previous, Next
            ok, text = t.wait(lambda s: 'Step 2 of 5' in s and 'imaps://mail.west.test:993' in s and
                              'ldap://gc.west.test:3268' in s, 20)
            c.check(ok and 'found in DNS: mail server (_imaps._tcp), directory (_gc._tcp)' in text,
                    'auto-detect fills the mail server (_imaps first) and the global catalog from DNS', text)
            t.keys('Escape', 'y')
            t.keys('q')
            t.wait_exit(20)
        mf.run('config', 'set', 'dns_server', '')


def dialog_text(screen):
    """The text inside a dialog's frame, its wrapped lines joined by spaces."""
    inside = [ln[ln.index('\u2502') + 1:ln.rindex('\u2502')].strip() for ln in screen.splitlines()
              if ln.count('\u2502') >= 2]
    return ' '.join(x for x in inside if x)


def wizard_tree(c, mf, src, d):
    """The wizard's scope step: the OU tree read from slapd in the background."""
    import sqlite3
    with term.Term(mf, 'console --no-engine', 110, 36) as t:
        t.wait(lambda s: 'Mailbox Jobs' in s, 20)
        t.keys('1', 'n')
        t.wait(lambda s: 'Step 1 of 5' in s, 10)
        t.type('tree.example')
        t.keys('Down', 'Down', 'Down', 'Down', 'Enter')           # role, auto-detect, Previous, Next
        t.wait(lambda s: 'Step 2 of 5' in s, 10)
        t.type(src.url)
        t.keys('Down')
        t.type(src.admin)
        t.keys('Down')
        t.type(src.admin_password)
        t.keys('Down', 'Down', 'Down', 'Down', 'Down')            # source, auth, TLS, max, directory
        # Two URLs as discovery takes them: a dead replica first, then the
        # real one with a DN part (libldap's ldap_initialize refuses that).
        dead = 'ldap://127.0.0.1:%d' % free_port()
        live = '%s/dc=example' % d.url
        t.type('%s %s' % (dead, live))
        t.keys('Down')
        t.type(BIND_DN)
        t.keys('Down')
        t.type(BIND_PW)
        t.keys('Down', 'Down', 'Enter')                           # Previous, Next
        ok, text = t.wait(lambda s: 'Step 3 of 5' in s and 'directory:' in s, 30)
        flat = dialog_text(text)
        c.check(ok and ('directory: bound to %s as %s' % (live, BIND_DN)) in flat and
                ('%s did not answer' % dead) in flat and 'FAILED' not in flat,
                'wizard: the connection test goes past the dead URL, binds to the one with a DN and names both',
                text)
        t.keys('Enter')
        ok, text = t.wait(lambda s: 'Step 4 of 5' in s and 'OUs / sites' in s, 10)
        c.check(ok and 'comma-separated' in text, 'without a base DN the scope is typed', text)
        t.keys('Down')
        t.type(BASE)
        t.keys('Down')                                            # leaving the base DN reads the OUs
        ok, text = t.wait(lambda s: '(everything)' in s and 'Sales' in s, 30)
        c.check(ok and '[x] \u25be %s (everything)' % BASE in text and '[x] \u25b8 Sales' in text and
                '[x]   HQ' in text and '[x]   People' in text and 'EMEA' not in text and
                'All content is selected by default' in text and 'OUs / sites' not in text,
                'the OUs as a tree: everything included, Sales collapsed, the text field gone', text)
        t.keys('Up', 'Up')                                        # base DN, the tree
        t.keys('Space', 'Down', 'Down', 'Down', 'Right')          # nothing; to Sales; expand
        ok, text = t.wait(lambda s: '[ ] \u25be Sales' in s and 'EMEA' in s and 'US' in s, 10)
        c.check(ok and '[ ] \u25be %s' % BASE in text and '[ ]   HQ' in text,
                'Space on the root leaves everything out; Right expands Sales', text)
        t.keys('Space', 'Down', 'Down', 'Space')                  # Sales in; US out
        t.keys('Up', 'Up', 'Up', 'Up', 'Space')                   # HQ in
        ok, text = t.wait(lambda s: '[x]   HQ' in s and '[-] \u25be Sales' in s, 10)
        c.check(ok and '[x]   EMEA' in text and '[ ]   US' in text and '[-] \u25be %s' % BASE in text,
                'Sales in, then US out: Sales and the root partly included; HQ in', text)
        t.keys('Down', 'Down', 'Left')                            # collapse Sales
        ok, text = t.wait(lambda s: '[-] \u25b8 Sales' in s and 'EMEA' not in s, 10)
        c.check(ok, 'Left collapses Sales', text)
        t.keys('Down', 'Down', 'Down')                            # out of the tree: base DN, filter, map
        t.type('colour=blue')
        t.keys('Down', 'Down', 'Enter')                           # Previous, Next
        ok, text = t.wait(lambda s: "unknown attribute map field 'colour'" in s, 10)
        c.check(ok and 'Step 4 of 5' in text, 'the attribute map refuses an unknown field, naming it (as the CLI)', text)
        t.keys('C-u')
        t.type('login=9abc')
        t.keys('Down', 'Down', 'Enter')
        ok, text = t.wait(lambda s: "login=9abc: '9abc' is not an LDAP attr" in s, 10)
        c.check(ok and 'Step 4 of 5' in text, 'and an attribute that is not an LDAP name, naming the field', text)
        t.keys('C-u')
        t.type('key=employeeNumber, name=cn')
        t.keys('Down', 'Down', 'Enter')
        ok, text = t.wait(lambda s: 'Step 5 of 5' in s, 10)
        c.check(ok and re.search(r'Attribute map\s+key=employeeNumber, name=cn', text),
                'a good map goes on; the summary shows it', text)
        c.check(ok and 'ou=HQ,%s; ou=EMEA,ou=Sales' % BASE in text, 'the summary shows the OUs chosen', text)
        t.keys('Enter')                                           # Finish
        ok, text = t.wait(lambda s: 'forest tree.example (source) added' in s, 10)
        c.check(ok, 'Finish adds the forest', text)
        t.keys('q')
        t.wait_exit(20)
    db = sqlite3.connect(mf.store)
    rows = db.execute("SELECT scope, dir_base_dn, dir_attrs FROM forests WHERE name='tree.example'").fetchall()
    db.close()
    c.check(rows == [('ou=HQ,%s\nou=EMEA,ou=Sales,%s' % (BASE, BASE), BASE, 'name=cn\nkey=employeeNumber')],
            'the forest\'s scope is the two DNs, one a line; its attribute map as the CLI stores it (%s)' % rows)
    r = mf.run('forest', 'check', 'tree.example')
    c.check('2 search bases readable' in r.out, 'and the health check reads both as search bases', r)
    # The forest's Mailboxes tab and its edit dialog keep the DNs whole.
    with term.Term(mf, 'console --no-engine', 110, 36) as t:
        t.wait(lambda s: 'Mailbox Jobs' in s, 20)
        t.keys('1', 'G', 'Tab', 'Tab', 'Tab')
        ok, text = t.wait(lambda s: 'ou=HQ,%s; ou=EMEA,ou=Sales,%s' % (BASE, BASE) in s, 10)
        c.check(ok, 'the Mailboxes tab shows the scope with "; " between the DNs', text)
        t.keys('Enter')                                           # edit, on the Mailboxes tab
        ok, text = t.wait(lambda s: '[Mailboxes]' in s and '[x]   HQ' in s, 20)
        c.check(ok and '[x]   EMEA' in text and '[ ]   US' in text and '[-] \u25be Sales' in text and
                not any('OUs / sites' in ln and 'included' not in ln for ln in text.splitlines()),
                'the edit dialog\'s Mailboxes tab shows the OU tree with the stored scope', text)
        t.keys('End', 'Down', 'Enter')                            # out of the tree to Save, untouched
        ok, text = t.wait(lambda s: 'forest tree.example saved' in s, 10)
        rows = scope_of(mf, 'tree.example')
        c.check(ok and rows == 'ou=HQ,%s\nou=EMEA,ou=Sales,%s' % (BASE, BASE),
                'saving the forest untouched keeps its scope (%r)' % rows, text)
        t.keys('Enter')
        ok, text = t.wait(lambda s: '[Mailboxes]' in s and '[x]   HQ' in s, 20)
        t.keys('Down', 'Down', 'Down', 'Down', 'Down', 'Space')   # HQ, People, Sales, EMEA, US: in
        ok, text = t.wait(lambda s: '[x]   US' in s, 10)
        c.check(ok, 'Space on US includes it', text)
        t.keys('Down', 'Enter')                                   # Save
        ok, text = t.wait(lambda s: 'forest tree.example saved' in s, 10)
        rows = scope_of(mf, 'tree.example')
        c.check(ok and rows == 'ou=HQ,%s\nou=EMEA,ou=Sales,%s\nou=US,ou=Sales,%s' % (BASE, BASE, BASE),
                'the tree\'s choice is saved: HQ, EMEA and US (%r)' % rows, text)
        t.keys('q')
        t.wait_exit(20)


def attr_map(c, mf):
    """The edit dialog's attribute map: refused like the CLI's, saved, shown
    on the Accounts tab, and used by R (login from employeeNumber: the same
    entries, renamed in place by their entryUUID)."""
    with term.Term(mf, 'console --no-engine', 110, 36) as t:
        t.wait(lambda s: 'Mailbox Jobs' in s, 20)
        t.keys('1', 'g', 'Tab', 'Tab')
        ok, text = t.wait(lambda s: 'Attribute map' in s and '- (the defaults)' in s, 10)
        c.check(ok, 'the Accounts tab shows the attribute map: the defaults', text)
        t.keys('Enter')
        ok, text = t.wait(lambda s: '[Accounts]' in s and 'Attribute map' in s, 10)
        t.keys(*(['Down'] * 9))                                   # URL .. filter, then the map
        t.type('upn=bad name')
        t.keys('Down', 'Enter')                                   # Save
        ok, text = t.wait(lambda s: "upn=bad name: 'bad name' is not an LDAP attr" in s, 10)
        c.check(ok, 'Save refuses a bad attribute, naming the field', text)
        t.keys('C-u')
        t.type('login=employeeNumber')
        t.keys('Down', 'Enter')
        ok, text = t.wait(lambda s: 'forest corp saved' in s, 10)
        c.check(ok and re.search(r'Attribute map\s+login=employeeNumber', text),
                'saved: the Accounts tab shows login=employeeNumber', text)
        t.keys('R')
        ok, text = t.wait(lambda s: re.search(r'corp: 0 added, 12 changed, 0 vanished, 12 mailboxes', s), 30)
        c.check(ok, 'R with the map: the 12 entries change (renamed by their key), none added', text)
        t.keys('2')
        ok, text = t.wait(lambda s: 'E012' in s and 'E001' in s, 15)
        c.check(ok and not re.search(r'\buser012\s', text),
                'Mailboxes lists the mapped logins (E001 .. E012), not the uids', text)
        t.keys('q')
        t.wait_exit(20)
    r = mf.run('forest', 'list')
    c.check('attrs=login=employeeNumber' in r.out, 'the CLI shows the map the console saved', r)


def dead_replica_h(c, mf, d):
    """H with a dead replica listed first: the directory line is a warning
    naming it, with the fix; the directory's clock is "not checked"."""
    dead = 'ldap://127.0.0.1:%d' % free_port()
    r = mf.run('forest', 'set', 'corp', '--directory', '%s %s' % (dead, d.url))
    c.check(r.rc == 0, 'corp gets a dead replica before its directory', r)
    with term.Term(mf, 'console --no-engine', 120, 36) as t:
        t.wait(lambda s: 'Mailbox Jobs' in s, 20)
        t.keys('1', 'g', 'H')
        ok, text = t.wait(lambda s: 'Health of corp' in s and '! directory' in s, 60)
        line = ([ln for ln in text.splitlines() if '! directory' in ln] or [''])[0]
        c.check(ok and dead in line and ('bound to %s' % d.url) in line and
                ('fix: check %s or remove it from the forest' % dead) in text,
                'H: a dead replica is a warning naming it, with the fix', text)
        c.check('i dir-clock' in text and 'does not publish its time' in text,
                'H: the directory clock is not checked (OpenLDAP publishes no currentTime)', text)
        t.keys('Escape', 'q')
        t.wait_exit(20)
    mf.run('forest', 'set', 'corp', '--directory', d.url)


def sites_tabs(c, mf):
    """The Forests view's Sites and Licenses tabs."""
    r = mf.run('blackout', 'add', 'lunch', '--start', '2030-01-07 12:00', '--end', '2030-01-07 13:00',
               '--tz', 'Europe/Paris', '--site', 'Lyon', '--weekly')
    c.check(r.rc == 0, 'a weekly blackout window for site Lyon in Europe/Paris', r)
    with term.Term(mf, 'console --no-engine', 110, 36) as t:
        t.wait(lambda s: 'Mailbox Jobs' in s, 20)
        t.keys('1', 'g')
        for _ in range(5):
            t.keys('Tab')
        ok, text = t.wait(lambda s: 'TIME ZONE' in s and re.search(r'Lyon\s+12\s', s), 10)
        c.check(ok and 'Europe/Paris' in forest_row(text, 'Lyon'),
                'Sites tab: Lyon with its 12 mailboxes and its blackout windows\' time zone', text)
        t.keys('Tab')
        ok, text = t.wait(lambda s: 'User mailboxes' in s and '12: need a license each' in s, 10)
        c.check(ok and 'Shared mailboxes' in text and '0: need none' in text,
                'Licenses tab: 12 user mailboxes need a license, the other kinds none', text)
        t.keys('Enter')
        ok, text = t.wait(lambda s: '[Accounts]' in s, 10)
        tabs = ([ln for ln in text.splitlines() if '[Accounts]' in ln] or [''])[0]
        c.check(ok and 'Credentials' in tabs and 'Sites' not in tabs and 'Licenses' not in tabs,
                'Enter there edits the forest on its Accounts tab (Sites and Licenses are read only)', text)
        t.keys('Escape', 'q')
        t.wait_exit(20)


def scope_of(mf, forest):
    import sqlite3
    db = sqlite3.connect(mf.store)
    try:
        return db.execute("SELECT scope FROM forests WHERE name=?", (forest,)).fetchone()[0]
    finally:
        db.close()


def main(c):
    fixtures.require()
    term.require()
    slapd.require()
    mf = cli.Mailferry()
    try:
        with fixtures.pair(checks=c) as (src, dst), Slapd(ldif(12)) as d:
            pw = mf.write_password_file('bind', BIND_PW)
            r = mf.run('forest', 'add', 'corp', '--role', 'source', '--directory', d.url, '--bind-dn', BIND_DN,
                       '--bind-password-file', pw, '--base-dn', BASE)
            c.check(r.rc == 0, 'a source forest with a directory', r)
            r = mf.endpoint_add('corp-imap', src, extra=['--forest', 'corp'])
            with term.Term(mf, 'console --no-engine', 110, 30) as t:
                ok, text = t.wait(lambda s: 'Mailbox Jobs' in s, 20)
                t.keys('1')
                ok, text = t.wait(lambda s: forest_row(s, 'corp').startswith('?'), 15)
                c.check(ok, 'Forests lists corp, never checked ("?")', text)
                t.keys('R')
                ok, text = t.wait(lambda s: re.search(r'corp: 12 added, 0 changed, 0 vanished, 12 mailboxes', s), 30)
                c.check(ok, 'R reads the directory in the background: 12 added', text)
                c.check(re.search(r'\b12\b', forest_row(text, 'corp')) is not None,
                        'the forest row counts its 12 mailboxes', forest_row(text, 'corp'))
                t.keys('2')
                ok, text = t.wait(lambda s: 'user012' in s and 'Lyon' in s and 'User 12' in s, 15)
                c.check(ok, 'the discovered mailboxes are in Mailboxes, with their site and name', text)
                t.keys('1', 'H')
                # The test server offers no STARTTLS: a warning, with its fix.
                ok, text = t.wait(lambda s: 'Health of corp: warnings' in s and CHECK + ' login' in s, 60)
                c.check(ok and CHECK + ' tcp' in text and CHECK + ' mailbox' in text and '! tls' in text and
                        'STARTTLS' in text and 'corp-imap' in text,
                        'H lists every check of the forest\'s endpoint: login and mailbox pass, TLS warns', text)
                c.check(CHECK + ' directory' in text and 'bound to' in text and BIND_DN in text,
                        'and the directory: bound as the service account, search base readable', text)
                t.keys('Enter')
                ok, text = t.wait(lambda s: forest_row(s, 'corp').startswith('!') and 'Last test: ! tls' in s, 15)
                c.check(ok, 'the forest and its endpoint are marked "!", the endpoint tab says why', text)
                # A wrong password: the login check fails and says how to fix it.
                for name in ('corp-imap', 'bind'):
                    with open(mf.password_files[name], 'w') as f:
                        f.write('wrong\n')
                t.keys('H')
                ok, text = t.wait(lambda s: 'Health of corp: failures' in s, 60)
                c.check(ok and '\u2717 login' in text and 'fix:' in text and 'wrong' not in text.split('Health')[1],
                        'a wrong password: the login check fails, with the fix, never the password', text)
                c.check('\u2717 directory' in text and BIND_DN in text and 'forest set corp' in text,
                        'a wrong bind password: the directory check fails naming the DN, with the fix', text)
                t.keys('Escape')
                ok, text = t.wait(lambda s: forest_row(s, 'corp').startswith('!') and 'Last test: ! login' in s, 15)
                c.check(ok, 'the forest is marked "!", the endpoint tab names the login check', text)
                t.keys('q')
                c.check(t.wait_exit(20), 'q quits')
            # The results are the forest's alerts in the store: a new console
            # shows them at once, and so does the CLI's check afterwards.
            with term.Term(mf, 'console --no-engine', 110, 30) as t:
                t.wait(lambda s: 'Mailbox Jobs' in s, 20)
                t.keys('1')
                ok, text = t.wait(lambda s: forest_row(s, 'corp').startswith('!') and 'Last test: ! directory:' in s
                                  and 'refused the bind' in s, 15)
                c.check(ok, 'a new console shows the stored alerts: "!" and the refused bind', text)
                t.keys('q')
                t.wait_exit(20)
            for name, pwd in (('corp-imap', src.admin_password), ('bind', BIND_PW)):
                with open(mf.password_files[name], 'w') as f:
                    f.write(pwd + '\n')
            r = mf.run('forest', 'check', 'corp')
            c.check(r.rc == 1, 'forest check with the passwords fixed: warnings only (no TLS), exit 1', r)
            with term.Term(mf, 'console --no-engine', 110, 30) as t:
                t.wait(lambda s: 'Mailbox Jobs' in s, 20)
                t.keys('1')
                ok, text = t.wait(lambda s: 'Last test: ! tls:' in s, 15)
                c.check(ok, 'the CLI\'s check replaced the alerts: the console shows the TLS warning only', text)
                t.keys('q')
                t.wait_exit(20)
            # The engine, when idle, checks forests never checked (or checked
            # longer ago than health_interval_min) by itself.
            import sqlite3
            db = sqlite3.connect(mf.store)
            db.execute('DELETE FROM alerts')
            db.commit()
            db.close()
            with term.Term(mf, 'console --workers 1', 110, 30) as t:
                t.wait(lambda s: 'Mailbox Jobs' in s, 20)
                t.keys('1')
                ok, text = t.wait(lambda s: 'Last test: ! tls:' in s and forest_row(s, 'corp').startswith('!'), 60)
                c.check(ok, 'the idle engine runs the due health check; the Forests view shows it live', text)
                t.keys('q')
                t.wait_exit(30)
            wizard_tree(c, mf, src, d)
            sites_tabs(c, mf)
            attr_map(c, mf)
            dead_replica_h(c, mf, d)
            if have_dnsmasq():
                wizard_detect(c, mf)
            elif os.environ.get('MFTEST_REQUIRE_DOVECOT') == '1':
                c.check(False, 'dnsmasq is installed (apt-get install dnsmasq)')
    finally:
        mf.cleanup()


if __name__ == '__main__':
    report.main(main, 'test_console_directory')
