#!/usr/bin/python3
"""The console's Forests view (ui/view_forests.c, ui/forest_wizard.c), driven
in tmux against real Dovecot servers:

- the list: forests seeded in the store, an endpoint added with the CLI under
  "(no forest)", the tabs below the list (Tab switches);
- T tests the target forest's endpoint in the background: the mark turns into
  a check mark and the status line names the server's capabilities;
- the Add Forest wizard end to end: an empty name, a second target forest
  (the store's message) and port 70000 are refused with the message on screen;
  a wrong admin password shows "!" with the server's answer; the right one a
  check mark; scope, summary ("stored in the secrets file"), Finish; then
  `endpoint list` and the store hold the forest and its endpoint, and the
  password is in the secrets file, not in the store;
- editing the General tab and saving (and an empty name refused);
- deleting: a wrong typed name deletes nothing, the right one deletes the
  forest; the target forest is refused; an endpoint without a forest asks y/n;
- the view and the wizard at 80x24.

Run: MAILFERRY=./mailferry python3 tests/test_console_forests.py   (exit 0 pass, 77 skip, 1 fail)
"""

import os
import re
import shlex
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, fixtures, report, term          # noqa: E402
from mftest.term import tmux, screen, keys, typed, wait_for  # noqa: E402

CHECK = '\u2713'







def row(text, name):
    """The list line of a forest (or endpoint) by its name, '' if none (the
    list ends at the tab bar; the status line is not part of it)."""
    for line in text.splitlines()[2:]:
        if line.startswith(' Endpoints '):
            break
        if (' %s ' % name) in line:
            return line
    return ''


def seed_forest(store, name, role, dir_url=None):
    """Forests go in through the store's schema: the CLI has no forest
    command yet (the store's own checks are exercised by the wizard)."""
    db = sqlite3.connect(store)
    cur = db.execute("INSERT INTO forests(name, role, dir_url, created) VALUES(?,?,?,?)",
                     (name, role, dir_url, int(time.time())))
    db.commit()
    fid = cur.lastrowid
    db.close()
    return fid


def set_forest(store, endpoint, fid):
    db = sqlite3.connect(store)
    db.execute("UPDATE endpoints SET forest_id=? WHERE name=?", (fid, endpoint))
    db.commit()
    db.close()


def query(store, sql, *args):
    db = sqlite3.connect(store)
    rows = db.execute(sql, args).fetchall()
    db.close()
    return rows


def wizard(c, sock, mf, dst):
    keys(sock, 'n')
    ok, text = wait_for(sock, lambda t: 'Add Forest' in t and 'Step 1 of 5' in t)
    c.check(ok and '[ Previous ] [ Next ] [ Finish ] [ Cancel ]' in text,
            'n opens the Add Forest wizard with Previous/Next/Finish/Cancel', text)
    # Empty name: refused, naming the field.
    c.check('Auto-detect servers' in text and '[ ]' in text, 'step 1 offers DNS auto-detection, off', text)
    keys(sock, 'Down', 'Down', 'Down', 'Down', 'Enter')    # name -> role -> auto-detect -> [ Previous ] -> [ Next ]
    ok, text = wait_for(sock, lambda t: "Forest name: can't be empty" in t)
    c.check(ok and 'Step 1 of 5' in text, 'an empty forest name is refused on screen', text)
    typed(sock, 'new.example')
    keys(sock, 'Down', 'Right')                # role: target
    keys(sock, 'Down', 'Down', 'Down', 'Enter')
    ok, text = wait_for(sock, lambda t: 'Role: there is already a target forest' in t and 'home.example' in t)
    c.check(ok and 'Step 1 of 5' in text, 'a second target forest is refused with the store\'s message', text)
    keys(sock, 'Left')                         # back to source
    keys(sock, 'Down', 'Down', 'Down', 'Enter')
    ok, text = wait_for(sock, lambda t: 'Step 2 of 5' in t and 'Mail server URL' in t)
    c.check(ok, 'Next goes on to the connection step', text)
    # Port out of range.
    typed(sock, 'imap://%s:70000' % dst.host)
    keys(sock, 'Down')
    typed(sock, dst.admin)
    keys(sock, 'Down')
    typed(sock, 'wrong-password')
    for _ in range(9):                         # to [ Next ]: pwref auth tls maxc dir bind dirpw, Previous, Next
        keys(sock, 'Down')
    keys(sock, 'Enter')
    ok, text = wait_for(sock, lambda t: 'Mail server URL: port 70000 is out of range (1 to 65535)' in t)
    c.check(ok, 'port 70000 is refused with the message on screen', text)
    keys(sock, 'C-u')
    typed(sock, dst.url)
    for _ in range(11):                        # from the URL down to [ Next ]
        keys(sock, 'Down')
    keys(sock, 'Enter')
    ok, text = wait_for(sock, lambda t: 'Step 3 of 5' in t and '! ' in t and 'Previous fixes' in t, 40)
    c.check(ok, 'a wrong admin password: the test shows "!" with the error', text)
    c.check('uthentication' in text or 'login' in text.lower() or 'denied' in text.lower(),
            'the error is the server\'s answer to the login', text)
    c.check('wrong-password' not in text, 'the password never appears on screen', text)
    # Back, fix the password, test again.
    keys(sock, 'Left', 'Enter')                # focus is on Next: Left -> Previous
    ok, text = wait_for(sock, lambda t: 'Step 2 of 5' in t)
    c.check(ok, 'Previous goes back to the connection step', text)
    keys(sock, 'Down', 'Down', 'C-u')
    typed(sock, dst.admin_password)
    for _ in range(9):
        keys(sock, 'Down')
    keys(sock, 'Enter')
    ok, text = wait_for(sock, lambda t: 'Step 3 of 5' in t and CHECK + ' logged in to' in t, 40)
    c.check(ok and 'capabilities' in text, 'the right password: the test shows a check mark and the capabilities',
            text)
    keys(sock, 'Enter')                        # Next
    ok, text = wait_for(sock, lambda t: 'Step 4 of 5' in t and 'OUs / sites' in t)
    c.check(ok, 'Next goes on to the mailbox scope', text)
    typed(sock, 'OU=Sales, OU=HQ')
    for _ in range(5):                         # base DN, filter, attribute map, Previous, Next
        keys(sock, 'Down')
    keys(sock, 'Enter')
    ok, text = wait_for(sock, lambda t: 'Step 5 of 5' in t and 'Summary' in t)
    c.check(ok and 'new.example (source)' in text and 'new.example-imap' in text and
            'typed; stored in the secrets file' in text and 'OU=Sales, OU=HQ' in text and
            CHECK + ' passed' in text and dst.admin_password not in text,
            'the summary shows every setting, the password only as "stored in the secrets file"', text)
    keys(sock, 'Enter')                        # focus is on Finish
    ok, text = wait_for(sock, lambda t: 'forest new.example (source) added with endpoint new.example-imap' in t)
    c.check(ok and 'Add Forest' not in text, 'Finish adds the forest and closes the wizard', text)
    c.check(row(text, 'new.example').startswith(CHECK) and 'source' in row(text, 'new.example'),
            'the new forest is listed with the wizard test\'s check mark', text)
    c.check('new.example-imap' in text, 'the new forest is selected: its endpoint is shown below', text)
    r = mf.run('endpoint', 'list')
    line = [l for l in r.out.splitlines() if l.startswith('new.example-imap')]
    c.check(r.rc == 0 and line and dst.url in line[0] and 'password=secret' in line[0],
            'endpoint list has new.example-imap with its password in the secrets file', r)
    rows = query(mf.store, "SELECT f.role, f.scope, e.name FROM forests f JOIN endpoints e ON e.forest_id=f.id "
                           "WHERE f.name='new.example'")
    c.check(rows == [('source', 'OU=Sales\nOU=HQ', 'new.example-imap')],
            'the store has the forest with its scope and endpoint (%s)' % rows)
    with open(mf.store, 'rb') as f:
        c.check(dst.admin_password.encode() not in f.read(), 'the admin password is not in the store')


def edit(c, sock, mf):
    keys(sock, 'Tab')                          # panel: General
    ok, text = wait_for(sock, lambda t: re.search(r'Users may postpone\s+no', t))
    c.check(ok, 'Tab shows the General tab of the selected forest', text)
    keys(sock, 'Enter')
    ok, text = wait_for(sock, lambda t: 'Forest new.example' in t and '[General]' in t)
    c.check(ok, 'Enter opens the forest in a dialog on the same tab', text)
    keys(sock, 'C-u', 'Down', 'Down', 'Down', 'Enter')     # empty name, then Save
    ok, text = wait_for(sock, lambda t: "Name: can't be empty" in t)
    c.check(ok, 'an empty name is refused on Save', text)
    typed(sock, 'new.example')
    keys(sock, 'Down', 'Space', 'Down', 'Right', 'Down', 'Enter')
    ok, text = wait_for(sock, lambda t: 'forest new.example saved' in t)
    c.check(ok and re.search(r'Users may postpone\s+yes', text) and 'initial migration' in text,
            'Save writes the General tab; the panel shows it', text)
    rows = query(mf.store, "SELECT allow_postpone, blackout_mode FROM forests WHERE name='new.example'")
    c.check(rows == [(1, 'initial')], 'the store has the new settings (%s)' % rows)
    keys(sock, 'BTab')                         # back to Endpoints


def delete(c, sock, mf):
    keys(sock, 'g', 'j', 'j')               # home, new, old
    keys(sock, 'D')
    ok, text = wait_for(sock, lambda t: 'Type old.example to delete it and its mailboxes, jobs and history' in t)
    c.check(ok, 'D asks for the forest\'s name to be typed', text)
    typed(sock, 'old.exampl')
    keys(sock, 'Enter')
    ok, text = wait_for(sock, lambda t: 'is not the forest\'s name' in t and 'nothing deleted' in t)
    c.check(ok and row(text, 'old.example'), 'a wrong name deletes nothing', text)
    c.check(query(mf.store, "SELECT count(*) FROM forests WHERE name='old.example'") == [(1,)],
            'old.example is still in the store')
    keys(sock, 'D')
    typed(sock, 'old.example')
    keys(sock, 'Enter')
    ok, text = wait_for(sock, lambda t: 'forest old.example deleted' in t)
    c.check(ok and not row(text, 'old.example'), 'the right name deletes the forest', text)
    c.check(query(mf.store, "SELECT count(*) FROM forests WHERE name='old.example'") == [(0,)],
            'old.example is gone from the store')
    keys(sock, 'g', 'D')
    ok, text = wait_for(sock, lambda t: 'home.example is the target forest: it cannot be deleted' in t)
    c.check(ok, 'the target forest cannot be deleted from the console', text)
    keys(sock, 'G', 'D')
    ok, text = wait_for(sock, lambda t: 'Delete endpoint cli-ep' in t and '(y/n)' in t)
    c.check(ok, 'an endpoint without a forest: D asks y/n', text)
    keys(sock, 'n')
    ok, text = wait_for(sock, lambda t: 'endpoint cli-ep kept' in t and row(t, 'cli-ep'))
    c.check(ok, 'n keeps the endpoint', text)


def main(c):
    fixtures.require()
    term.require()
    mf = cli.Mailferry()
    sock = 'mfforests%d' % os.getpid()
    try:
        with fixtures.pair(users=3, checks=c) as (src, dst):
            mf.endpoint_add('cli-ep', src)
            mf.endpoint_add('home-imap', dst)
            r = mf.run('endpoint', 'list')      # creates the store before it is seeded
            home = seed_forest(mf.store, 'home.example', 'target')
            set_forest(mf.store, 'home-imap', home)
            seed_forest(mf.store, 'old.example', 'source', 'ldap://dc1.old.example')
            wrapper = os.path.join(mf.dir, 'console.sh')
            with open(wrapper, 'w') as f:
                for k, v in mf.env().items():
                    if k.isidentifier():
                        f.write('export %s=%s\n' % (k, shlex.quote(v)))
                f.write('exec %s console --no-engine\n' % ' '.join(map(shlex.quote, mf.argv([]))))
            tmux(sock, 'new-session', '-d', '-s', 'mf', '-x', '100', '-y', '30', 'sh ' + shlex.quote(wrapper))
            ok, _ = wait_for(sock, lambda t: '? Help' in t, 20)
            keys(sock, '1')
            ok, text = wait_for(sock, lambda t: 'Forests: 2' in t and '(no forest)' in t)
            c.check(ok, 'key 1 opens Forests: two forests and "(no forest)"', text)
            c.check(row(text, 'home.example').startswith('?') and 'target' in row(text, 'home.example'),
                    'home.example: target, never tested ("?")', text)
            c.check('ldap://dc1.old.example' in row(text, 'old.example') and 'source' in row(text, 'old.example'),
                    'old.example: source with its directory URL', text)
            c.check(src.url in row(text, 'cli-ep'), 'the CLI endpoint is listed under "(no forest)"', text)
            c.check(' Endpoints   General   Accounts   Mailboxes   Credentials   Sites   Licenses' in text and
                    'home-imap' in text and dst.url in text,
                    'the tabs below show the selected forest\'s endpoints', text)
            keys(sock, 'Tab', 'Tab')
            ok, text = wait_for(sock, lambda t: 'Mail server' in t and 'Admin user' in t and 'TLS verification' in t)
            c.check(ok and dst.admin in text, 'Tab switches to the Accounts tab', text)
            keys(sock, 'Tab', 'Tab')
            ok, text = wait_for(sock, lambda t: 'Mail admin password' in t and 'file:' in t)
            c.check(ok and dst.admin_password not in text,
                    'the Credentials tab says where the password comes from, never the password', text)
            keys(sock, 'Tab')                   # Sites
            ok, text = wait_for(sock, lambda t: 'TIME ZONE' in t and '(no site)' not in t)
            c.check(ok and 'No mailbox yet' in text, 'Tab shows the Sites tab (no mailbox yet)', text)
            keys(sock, 'Tab', 'Tab')            # Licenses, back to Endpoints
            keys(sock, 'T')
            ok, text = wait_for(sock, lambda t: row(t, 'home.example').startswith(CHECK) and
                                'test of home-imap: ' + CHECK in t, 40)
            c.check(ok and 'capabilities' in text, 'T tests the forest in the background: check mark', text)
            wizard(c, sock, mf, dst)
            edit(c, sock, mf)
            delete(c, sock, mf)
            # 80x24: the list, the tabs and the wizard still fit.
            tmux(sock, 'resize-window', '-t', 'mf', '-x', '80', '-y', '24', check=False)
            keys(sock, 'g')
            ok, text = wait_for(sock, lambda t: len(t.splitlines()) <= 24 and 'FOREST' in t and
                                row(t, 'home.example') and ' Endpoints ' in t and 'home-imap' in t)
            c.check(ok and all(len(l) <= 80 for l in text.splitlines()),
                    'at 80x24 the list and the tabs are drawn', text)
            keys(sock, 'n')
            ok, text = wait_for(sock, lambda t: 'Step 1 of 5' in t and '[ Finish ]' in t and '[ Cancel ]' in t)
            c.check(ok, 'at 80x24 the wizard shows its buttons', text)
            typed(sock, 'x')
            keys(sock, 'Escape')
            ok, text = wait_for(sock, lambda t: "Throw away the new forest's settings? (y/n)" in t)
            c.check(ok, 'Esc with typed input asks first', text)
            keys(sock, 'y')
            ok, text = wait_for(sock, lambda t: 'no forest added' in t and 'Add Forest' not in t)
            c.check(ok, 'y throws the input away', text)
            keys(sock, 'q')
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and tmux(sock, 'has-session', '-t', 'mf', check=False).returncode == 0:
                time.sleep(0.2)
            c.check(tmux(sock, 'has-session', '-t', 'mf', check=False).returncode != 0, 'q quits the console')
    finally:
        tmux(sock, 'kill-server', check=False)
        mf.cleanup()


if __name__ == '__main__':
    report.main(main, 'test_console_forests')
