"""mailferry demo: two throw-away Dovecot servers on 127.0.0.1 (a source with
sample mailboxes, an empty target), a real migration of five mailboxes (in the
full-screen console when run from a terminal, with the progress line
otherwise), a delta pass after new mail arrives, and a verify.

Run through `make demo` (or ./quickstart).  Everything lives in a temp folder
and is removed at the end unless MAILFERRY_DEMO_KEEP=1; nothing outside it is
touched.  Needs dovecot-imapd (Debian) and the built mailferry binary
($MAILFERRY)."""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mftest.dovecot import Dovecot, SOURCE_SPECIAL, TARGET_SPECIAL  # noqa: E402
from mftest import corpus                                           # noqa: E402

USERS = ['user%03d' % i for i in range(1, 6)]
DISPLAY = ['Anna Svensson', 'Björn Åkesson', 'Chloé Dubois', '山田 太郎', 'Support desk']


def say(text):
    print('\n\033[1m==> %s\033[0m' % text if sys.stdout.isatty() else '\n==> ' + text, flush=True)


def main():
    binary = os.environ.get('MAILFERRY') or os.path.join(os.getcwd(), 'mailferry')
    keep = os.environ.get('MAILFERRY_DEMO_KEEP') == '1'
    work = tempfile.mkdtemp(prefix='mailferry-demo.')
    store = os.path.join(work, 'demo.db')
    conf = os.path.join(work, 'mailferry.conf')
    with open(conf, 'w') as f:
        f.write('store_path = "%s";\nsecrets_path = "%s/secrets";\nworkers = 4;\n' % (store, work))

    def mf(*args, check=True):
        cmd = [binary, '-c', conf] + list(args)
        print('$ mailferry ' + ' '.join(args), flush=True)
        r = subprocess.run(cmd)
        if check and r.returncode not in (0, 1):
            sys.exit('demo: mailferry %s failed with exit code %d' % (args[0], r.returncode))
        return r.returncode

    say('Starting a source and a target IMAP server (Dovecot) on 127.0.0.1')
    with Dovecot(name='demo-src', layout='fs', special=SOURCE_SPECIAL) as src, \
            Dovecot(name='demo-dst', special=TARGET_SPECIAL) as dst:
        print('source %s, target %s (work folder %s)' % (src.url, dst.url, work))
        say('Filling %d source mailboxes with sample mail' % len(USERS))
        total = 0
        counts = {}
        for i, user in enumerate(USERS):
            man = corpus.fill(src, user, seed=i + 1, target_sep='.', big=False)
            counts[user] = man.total()
            total += man.total()
        print('%d messages in %d mailboxes' % (total, len(USERS)))
        say('Registering a source and a target forest with their IMAP endpoints '
            '(the passwords stay in files only you can read)')
        for name, server, forest in (('source', src, 'old.example'), ('target', dst, 'new.example')):
            mf('forest', 'add', forest, '--role', name)
            pw = os.path.join(work, name + '.pw')
            with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as f:
                f.write(server.admin_password + '\n')
            mf('endpoint', 'add', name, server.url, '--user', server.admin, '--password-file', pw,
               '--forest', forest)
        mf('endpoint', 'list')
        say('Importing the mailbox list (sites, sizes, a delegate) from a CSV file')
        csv = os.path.join(work, 'mailboxes.csv')
        with open(csv, 'w') as f:
            f.write('login,address,display_name,site,database,kind,items,delegates\n')
            for i, (user, name) in enumerate(zip(USERS, DISPLAY)):
                f.write('%s,%s@old.example,%s,%s,DB%02d,%s,%d,%s\n' % (
                    user, user, name, 'Paris' if i % 2 else 'Zürich', 1 + i % 3,
                    'shared' if i == 4 else 'user', counts[user], USERS[0] if i == 1 else ''))
        mf('mailbox', 'import', csv, '--endpoint', 'source')
        mf('queue', 'source', 'target', *USERS)
        if sys.stdin.isatty() and sys.stdout.isatty() and \
                os.environ.get('MAILFERRY_DEMO_CONSOLE') != '0':
            say('Opening the console: its engine migrates the queued mailboxes while you watch '
                '(3 jobs, 2 mailboxes, 1 forests, 9 event log, ? help, q quit)')
            time.sleep(2)
            mf('console', '--workers', '4')
        say('Running whatever is still queued with 4 workers (headless)')
        mf('run', '--workers', '4')
        mf('jobs', '--all')
        say('New mail arrives on the source; a delta pass copies only that')
        corpus.add_messages(src, USERS[0], 'INBOX', 3)
        mf('migrate', 'source', 'target', USERS[0], '--pass', 'delta')
        say('Verifying every mailbox against its source')
        for user in USERS:
            mf('verify', 'source', 'target', user)
        say('What happened (event log, last 15 lines)')
        mf('events', '--limit', '15')
    if keep:
        print('\nkept: %s' % work)
    else:
        subprocess.run(['rm', '-rf', work])
    print('\nDemo finished.  Next: read README, then `mailferry --help`.')


if __name__ == '__main__':
    main()
