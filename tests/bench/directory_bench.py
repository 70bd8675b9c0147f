#!/usr/bin/python3
"""Directory discovery at scale (make bench-directory; not part of make check).

Loads N (default 100 000, or MFTEST_DIR_ENTRIES) Active Directory-like
mailboxes into a throw-away slapd with slapadd (offline, fast), each with the
attributes discovery reads (objectGUID, proxyAddresses, homeMDB, uSNChanged,
publicDelegates on every 100th, msExchDelegateListLink on every 50th), in
10 sites, with a size limit of 500 so that only RFC 2696 paging gets them
all.  Then times `mailferry forest discover` and takes its peak RSS (wait4):

  1. full discovery into an empty store (N added);
  2. incremental rediscovery without changes (key walk only);
  3. incremental after 100 changes;
  4. --full again (every entry read, nothing written).

Each run must report the right counts, or the bench fails (exit 1).

Run: MAILFERRY=./mailferry python3 tests/bench/directory_bench.py
"""

import base64
import os
import re
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from mftest import cli                              # noqa: E402
from mftest.slapd import Slapd, have_slapd          # noqa: E402

BASE = 'dc=corp,dc=example'
BIND_DN = 'cn=svc-mailferry,dc=example'
BIND_PW = 'Bench-Bind-Pw'
SITES = ['Site%02d' % i for i in range(10)]


def user_dn(i, n):
    return 'cn=u%06d,ou=Users,ou=%s,%s' % (i, SITES[i * len(SITES) // (n + 1)], BASE)


def entry(i, n, usn):
    login = 'u%06d' % i
    site = SITES[i * len(SITES) // (n + 1)]
    out = ['dn: %s\nobjectClass: user\ncn: %s\nsn: %s\ndisplayName: User %06d\n'
           'sAMAccountName: %s\nuserPrincipalName: %s@corp.example\nmail: %s@corp.example\n'
           'proxyAddresses: SMTP:%s@corp.example\nproxyAddresses: smtp:%s@old.example\n'
           'homeMDB: cn=DB-%s-%d,cn=Databases,%s\nmsExchRecipientTypeDetails: %d\nuSNChanged: %d\n'
           % (user_dn(i, n), login, login, i, login, login, login, login, login, site, i % 4, BASE,
              4 if i % 50 == 0 else 1, usn)]
    out.append('objectGUID:: %s\n' % base64.b64encode(uuid.uuid5(uuid.NAMESPACE_DNS, login).bytes).decode())
    if i % 100 == 1 and i + 2 <= n:
        out.append('publicDelegates: %s\npublicDelegates: %s\n' % (user_dn(i + 1, n), user_dn(i + 2, n)))
    if i % 50 == 0:
        out.append('msExchDelegateListLink: %s\n' % user_dn(i - 1, n))
    return ''.join(out) + '\n'


def make_ldif(n):
    parts = ['dn: dc=example\nobjectClass: domain\ndc: example\n\n',
             'dn: %s\nobjectClass: person\ncn: svc-mailferry\nsn: svc\nuserPassword: %s\n\n' % (BIND_DN, BIND_PW),
             'dn: %s\nobjectClass: domain\ndc: corp\n\n' % BASE]
    for s in SITES:
        parts.append('dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n' % (s, BASE, s))
        parts.append('dn: ou=Users,ou=%s,%s\nobjectClass: organizationalUnit\nou: Users\n\n' % (s, BASE))
    for i in range(1, n + 1):
        parts.append(entry(i, n, 10000 + i))
    return ''.join(parts)


def run_measured(mf, *args):
    argv = mf.argv(args)
    t0 = time.monotonic()
    # Output goes to files: reading two pipes in turn could block.
    outp, errp = os.path.join(mf.dir, 'bench.out'), os.path.join(mf.dir, 'bench.err')
    with open(outp, 'wb') as o, open(errp, 'wb') as e:
        p = subprocess.Popen(argv, stdout=o, stderr=e, env=mf.env(), cwd=mf.dir)
        _, status, ru = os.wait4(p.pid, 0)
    with open(outp, 'rb') as f:
        out = f.read()
    with open(errp, 'rb') as f:
        err = f.read()
    p.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - t0
    return p.returncode, out.decode(), err.decode(), seconds, ru.ru_maxrss / 1024.0


def counts(out):
    m = re.search(r'(\d+) added, (\d+) changed, (\d+) vanished, (\d+) total', out)
    return tuple(int(x) for x in m.groups()) if m else None


def main():
    cli.require_binary()
    if not have_slapd():
        print('SKIP: slapd is not installed (apt-get install slapd ldap-utils)')
        return 77
    n = int(os.environ.get('MFTEST_DIR_ENTRIES', '100000'))
    t0 = time.monotonic()
    ldif = make_ldif(n)
    gen = time.monotonic() - t0
    failed = 0
    results = []
    with Slapd(ldif, suffix='dc=example', size_limit=500, db_maxsize=4 << 30) as d, cli.Mailferry() as mf:
        print('%d entries: LDIF generated in %.1f s, slapadd %.1f s' % (n, gen, d.load_seconds))
        del ldif
        pw = mf.write_password_file('bind', BIND_PW)
        imap_pw = mf.write_password_file('imap', 'x')
        mf.run('forest', 'add', 'big', '--role', 'source', '--directory', d.url, '--bind-dn', BIND_DN,
               '--bind-password-file', pw, '--base-dn', BASE)
        mf.run('endpoint', 'add', 'big-imap', 'imap://127.0.0.1:1', '--user', 'admin',
               '--password-file', imap_pw, '--forest', 'big')

        def step(title, want, *extra):
            nonlocal failed
            rc, out, err, sec, rss = run_measured(mf, 'forest', 'discover', 'big', *extra)
            got = counts(out)
            ok = rc == 0 and got == want
            failed += not ok
            line = '%-40s %7.1f s  %6.0f MB peak RSS  %s' % (title, sec, rss, 'ok' if ok else
                                                               'FAILED: exit %s, %s\n%s' % (rc, got, err[-2000:]))
            print(line)
            results.append((title, sec, rss, ok))

        step('full discovery (%d added)' % n, (n, 0, 0, n))
        step('incremental, no change', (0, 0, 0, n))
        mods = ''.join('dn: %s\nchangetype: modify\nreplace: displayName\ndisplayName: Changed %d\n-\n'
                       'replace: uSNChanged\nuSNChanged: %d\n\n' % (user_dn(i, n), i, 10000 + n + i)
                       for i in range(1, min(n, 100) + 1))
        d.modify(mods)
        step('incremental, 100 changed', (0, min(n, 100), 0, n))
        step('--full again, nothing new', (0, 0, 0, n), '--full')
        size = os.path.getsize(mf.store) / 1e6
        print('store: %.0f MB' % size)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
