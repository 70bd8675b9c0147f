#!/usr/bin/python3
"""Auto-detect and forest alerts against real servers: a dnsmasq on loopback
(SRV and A records given on its command line) and the test Dovecot pair.

detect: SRV records come out best first (priority, then weight), with their
ports and addresses; a domain without records exits 78; a dns_server nobody
answers on exits 75 with a one-line message.

forest check: every check passes on a healthy forest; then one thing at a time
is broken and the right check fails with a fix line, and clears when fixed:
the admin's password file, an endpoint on a closed port, an admin without the
right to act for users, an expired TLS certificate (openssl -days -1), one that
expires tomorrow (a warning); no password ever appears in the output.

directory (a real slapd): a forest whose first directory URL is a dead
port and whose second answers gets a warning naming the dead one, with the
`forest set --directory` that leaves it out as the fix, and exit 1; with
the live URL alone the directory is ✓; the directory clock is "not
checked" since OpenLDAP publishes no currentTime (the comparison itself is
tests/unit/tst_dirclock).

run: with health_interval_min 0 a run checks nothing; with 1 minute it checks
the forest that was never checked at its start and again once the (test)
clock has moved two minutes on while jobs still run, and the jobs complete.

Run: MAILFERRY=$PWD/mailferry MF_SRCDIR=$PWD PYTHONPATH=$PWD/tests python3 tests/test_health.py
(exit 0 pass, 77 skip, 1 fail)
"""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sqlite3                                # noqa: E402
import time                                   # noqa: E402

from mftest import cli, corpus, fixtures, proxy, report   # noqa: E402
from mftest.dnsmasq import Dnsmasq, have_dnsmasq, free_udp_port   # noqa: E402
from mftest.dovecot import free_port          # noqa: E402
from mftest.slapd import Slapd, have_slapd    # noqa: E402

OK, WARN, FAIL = '\u2713', '!', '\u2717'


def require_dnsmasq():
    if have_dnsmasq():
        return
    if os.environ.get('MFTEST_REQUIRE_DOVECOT') == '1':
        print('FAIL: dnsmasq is not installed (apt-get install dnsmasq)')
        raise SystemExit(1)
    raise report.Skip('dnsmasq is not installed (apt-get install dnsmasq)')


def main(c):
    fixtures.require()
    require_dnsmasq()
    with fixtures.pair(users=4, imaps=True, checks=c) as (src, dst):
        mf = cli.Mailferry()
        try:
            detect_checks(c, mf, src, dst)
            health_checks(c, mf, src, dst)
            directory_checks(c, mf)
            run_checks(c, mf, src, dst)
        finally:
            mf.cleanup()


# ------------------------------------------------------------------ detect

def position(text, needle):
    i = text.find(needle)
    return i if i >= 0 else len(text) + 1


def detect_checks(c, mf, src, dst):
    srv = [
        # name, target, port, priority, weight
        ('_imaps._tcp.corp.test', 'mail-b.corp.test', src.imaps_port, 10, 20),
        ('_imaps._tcp.corp.test', 'backup.corp.test', 1993, 20, 100),
        ('_imaps._tcp.corp.test', 'mail-a.corp.test', src.imaps_port, 10, 80),
        ('_imap._tcp.corp.test', 'mail-c.corp.test', dst.port, 0, 0),
        ('_gc._tcp.corp.test', 'gc2.corp.test', 3269, 5, 0),
        ('_gc._tcp.corp.test', 'gc1.corp.test', 3268, 0, 100),
        ('_ldap._tcp.dc._msdcs.corp.test', 'dc1.corp.test', 389, 0, 100),
    ]
    hosts = [('mail-a.corp.test', '127.0.0.1'), ('mail-b.corp.test', '127.0.0.2'),
             ('mail-c.corp.test', '127.0.0.1'), ('gc1.corp.test', '127.0.0.3')]
    with Dnsmasq(srv=srv, hosts=hosts, local=['corp.test', 'empty.test']) as dns:
        r = mf.run('config', 'set', 'dns_server', dns.server)
        c.check(r.rc == 0, 'config set dns_server %s' % dns.server, r)
        r = mf.run('detect', 'corp.test')
        out = r.out
        c.check(r.rc == 0, 'detect corp.test: exit 0', lambda: '%s\n%s' % (r, dns.log_tail()))
        a = position(out, 'mail-a.corp.test:%d' % src.imaps_port)
        b = position(out, 'mail-b.corp.test:%d' % src.imaps_port)
        k = position(out, 'backup.corp.test:1993')
        c.check(a < b < k < len(out),
                'IMAPS servers best first: priority 10 weight 80, then weight 20, then priority 20',
                out)
        c.check('priority 10 weight 80' in out and 'priority 20 weight 100' in out,
                'priority and weight shown', out)
        c.check('mail-c.corp.test:%d' % dst.port in out and
                position(out, '_imaps._tcp') < position(out, 'mail-c.corp.test'),
                'RFC 6186 _imap._tcp (STARTTLS) server listed after _imaps', out)
        c.check(position(out, 'gc1.corp.test:3268') < position(out, 'gc2.corp.test:3269') < len(out),
                'global catalogs from _gc._tcp, priority 0 before 5', out)
        c.check('dc1.corp.test:389' in out, 'domain controller from _ldap._tcp.dc._msdcs', out)
        line_a = [ln for ln in out.splitlines() if 'mail-a.corp.test' in ln]
        line_b = [ln for ln in out.splitlines() if 'mail-b.corp.test' in ln]
        c.check(line_a and '127.0.0.1' in line_a[0] and line_b and '127.0.0.2' in line_b[0],
                'A records of the targets from the same DNS server', out)

        r = mf.run('detect', 'empty.test')
        c.check(r.rc == 78 and fixtures.one_line_error(r) and 'no SRV records' in r.err,
                'a domain without records: exit 78, one line', r)
        r = mf.run('detect')
        c.check(r.rc == 64, 'detect without DOMAIN: exit 64', r)

        dead = free_udp_port()
        mf.run('config', 'set', 'dns_server', '127.0.0.1:%d' % dead)
        r = mf.run('detect', 'corp.test', timeout=30)
        c.check(r.rc == 75 and fixtures.one_line_error(r) and
                '127.0.0.1:%d' % dead in r.err and 'did not answer' in r.err,
                'dns_server on a closed port: exit 75, names the server', r)
        r = mf.run('config', 'set', 'dns_server', 'dns.example:53')
        c.check(r.rc == 78 and 'dns_server' in r.err, 'dns_server must be an IPv4 address', r)
        mf.run('config', 'set', 'dns_server', '')


# ------------------------------------------------------------------ health

def lines(r, mark, check, endpoint):
    """Result lines of one check (with the fix line that follows, if any)."""
    out = r.out.splitlines()
    found = []
    for i, ln in enumerate(out):
        parts = ln.split()
        if len(parts) >= 3 and parts[0] == mark and parts[1] == check and parts[2] == endpoint:
            fix = out[i + 1] if i + 1 < len(out) and out[i + 1].startswith('    fix:') else ''
            found.append((ln, fix))
    return found


def no_secret(c, r, secrets, what):
    c.check(not any(s in r.out or s in r.err for s in secrets),
            '%s: no password in the output' % what, r)


def make_cert(dirpath, days):
    cert, key = os.path.join(dirpath, 'c.pem'), os.path.join(dirpath, 'k.pem')
    csr = os.path.join(dirpath, 'r.csr')
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, timeout=60)
    run('openssl', 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
        '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1')
    # -days -1: valid from now until yesterday, i.e. expired (OpenSSL 3.0 has
    # no -not_after; faketime is not needed).
    run('openssl', 'x509', '-req', '-in', csr, '-signkey', key, '-days', str(days), '-out', cert)
    return cert, key


def serve_cert(src, cert, key):
    shutil.copyfile(cert, src.cert)
    shutil.copyfile(key, src.key)
    os.chmod(src.key, 0o600)
    src.restart()


def health_checks(c, mf, src, dst):
    secrets = [src.admin_password, 'wrong-' + src.admin_password, src.password('user002')]
    r = mf.run('forest', 'add', 'corp', '--role', 'source')
    c.check(r.rc == 0, 'forest add corp', r)
    mf.endpoint_add('old', src, tls=True, insecure=True, extra=['--forest', 'corp'])
    csv = os.path.join(mf.dir, 'users.csv')
    with open(csv, 'w') as f:
        f.write('login,address\nuser001,user001@corp.test\nuser003,user003@corp.test\n')
    r = mf.run('mailbox', 'import', csv, '--endpoint', 'old')
    c.check(r.rc == 0, 'mailbox import for the sample mailbox', r)

    r = mf.run('forest', 'check', 'corp')
    c.check(r.rc == 0 and FAIL not in r.out and
            all(lines(r, OK, chk, 'old') for chk in ('dns', 'tcp', 'tls', 'login', 'mailbox')),
            'healthy forest: exit 0, dns/tcp/tls/login/mailbox all \u2713', r)
    c.check(lines(r, 'i', 'clock', 'old') and lines(r, 'i', 'size-limit', 'old'),
            'clock skew and APPENDLIMIT reported as info when the server gives no figure', r)
    c.check('user001' in r.out and 'valid until' in r.out, 'sample mailbox and expiry shown', r)
    no_secret(c, r, secrets, 'healthy forest')
    c.info('forest check of a healthy forest:\n' + r.out.rstrip())

    # wrong admin password, then fixed
    pwfile = mf.password_files['old']
    with open(pwfile, 'w') as f:
        f.write('wrong-' + src.admin_password + '\n')
    r = mf.run('forest', 'check', 'corp')
    got = lines(r, FAIL, 'login', 'old')
    c.check(r.rc == 78 and got and pwfile in got[0][1],
            'wrong password: exit 78, \u2717 login with a fix naming the password file', r)
    c.check(not lines(r, OK, 'mailbox', 'old'), 'wrong password: later checks not run', r)
    no_secret(c, r, secrets, 'wrong password')
    with open(pwfile, 'w') as f:
        f.write(src.admin_password + '\n')
    r = mf.run('forest', 'check', 'corp')
    c.check(r.rc == 0 and lines(r, OK, 'login', 'old'), 'password fixed: login \u2713 again', r)

    # an endpoint on a closed port, then removed
    closed = free_port()
    mf.endpoint_add('dead', src, url='imaps://127.0.0.1:%d' % closed, insecure=True,
                    extra=['--forest', 'corp'])
    r = mf.run('forest', 'check', 'corp')
    got = lines(r, FAIL, 'tcp', 'dead')
    c.check(r.rc == 78 and got and str(closed) in got[0][0] and 'fix:' in got[0][1] and
            lines(r, OK, 'login', 'old'),
            'closed port: \u2717 tcp for that endpoint only, with a fix line', r)
    mf.run('endpoint', 'remove', 'dead')
    r = mf.run('forest', 'check', 'corp')
    c.check(r.rc == 0 and 'dead' not in r.out, 'closed port: clears once fixed', r)

    # an admin without the right to act for users
    mf.endpoint_add('plain', src, user='user002', password=src.password('user002'), tls=True,
                    insecure=True, extra=['--forest', 'corp'])
    mf.run('mailbox', 'import', csv, '--endpoint', 'plain')
    r = mf.run('forest', 'check', 'corp')
    got = lines(r, FAIL, 'mailbox', 'plain')
    c.check(r.rc == 78 and got and 'user001' in got[0][0] and 'act for' in got[0][1] and
            lines(r, OK, 'login', 'plain'),
            'admin without rights: login \u2713 but \u2717 mailbox with a fix line', r)
    no_secret(c, r, secrets, 'admin without rights')
    mf.run('endpoint', 'remove', 'plain')

    # expired certificate, then one that expires tomorrow, then a good one
    certdir = os.path.join(mf.dir, 'certs')
    os.mkdir(certdir)
    good = (src.cert + '.good', src.key + '.good')
    shutil.copyfile(src.cert, good[0])
    shutil.copyfile(src.key, good[1])
    serve_cert(src, *make_cert(certdir, -1))
    r = mf.run('forest', 'check', 'corp')
    got = lines(r, FAIL, 'tls', 'old')
    c.check(r.rc == 78 and got and 'expired' in got[0][0] and 'renew' in got[0][1],
            'expired certificate: exit 78, \u2717 tls "expired", fix: renew', r)
    c.info('forest check with an expired certificate:\n' + r.out.rstrip())
    serve_cert(src, *make_cert(certdir, 1))
    r = mf.run('forest', 'check', 'corp')
    got = lines(r, WARN, 'tls', 'old')
    c.check(r.rc == 1 and got and 'expires in 1 day' in got[0][0] and 'renew' in got[0][1],
            'certificate valid 1 more day: exit 1, ! tls "expires in 1 day"', r)
    serve_cert(src, *good)
    r = mf.run('forest', 'check', 'corp')
    c.check(r.rc == 0 and lines(r, OK, 'tls', 'old'), 'good certificate: tls \u2713 again', r)

    r = mf.run('forest', 'check', 'nope')
    c.check(r.rc == 78 and fixtures.one_line_error(r), 'unknown forest: exit 78, one line', r)


# ------------------------------------------------------------------ run

BIND_DN = 'cn=svc,dc=example'
BIND_PW = 'Bind-Pw-4e1a'


def directory_checks(c, mf):
    if not have_slapd():
        if os.environ.get('MFTEST_REQUIRE_DOVECOT') == '1':
            c.check(False, 'slapd is not installed (apt-get install slapd ldap-utils)')
        else:
            print('# directory checks skipped: slapd is not installed')
        return
    ldif = ('dn: dc=example\nobjectClass: domain\ndc: example\n\n'
            'dn: %s\nobjectClass: person\ncn: svc\nsn: svc\nuserPassword: %s\n\n' % (BIND_DN, BIND_PW))
    with Slapd(ldif) as d:
        dead = 'ldap://127.0.0.1:%d' % free_port()
        bind = mf.write_password_file('bind', BIND_PW)
        r = mf.run('forest', 'add', 'ldapfor', '--role', 'source', '--directory', '%s %s' % (dead, d.url),
                   '--bind-dn', BIND_DN, '--bind-password-file', bind)
        c.check(r.rc == 0, 'a forest whose first directory URL is a dead port', r)
        r = mf.run('forest', 'check', 'ldapfor')
        got = lines(r, WARN, 'directory', '-')
        c.check(got and ('bound to %s as %s' % (d.url, BIND_DN)) in got[0][0] and
                ('%s did not answer' % dead) in got[0][0] and
                ("check %s or remove it from the forest's directory URLs: mailferry forest set ldapfor "
                 "--directory '%s'" % (dead, d.url)) in got[0][1] and not lines(r, OK, 'directory', '-'),
                'a dead replica before the live one: a warning naming it, the fix leaves it out', r)
        got = lines(r, 'i', 'dir-clock', '-')
        c.check(got and ('not checked (the directory %s does not publish its time)' % d.url) in got[0][0],
                'the directory clock: not checked, OpenLDAP publishes no currentTime', r)
        r = mf.run('forest', 'set', 'ldapfor', '--directory', d.url)
        r = mf.run('forest', 'check', 'ldapfor')
        c.check(lines(r, OK, 'directory', '-') and not lines(r, WARN, 'directory', '-') and 'did not answer' not in r.out,
                'the dead URL removed: the directory is ✓ again', r)
        no_secret(c, r, [BIND_PW], 'directory checks')


def alert_times(store):
    """The check times of forest corp's alerts (one per result)."""
    db = sqlite3.connect(store)
    try:
        return [t for (t,) in db.execute("SELECT a.ts FROM alerts a JOIN forests f ON f.id=a.forest_id "
                                        "WHERE f.name='corp'")]
    finally:
        db.close()


def clear_alerts(store):
    db = sqlite3.connect(store)
    db.execute('DELETE FROM alerts')
    db.commit()
    db.close()


def job_states(mf):
    db = sqlite3.connect(mf.store)
    try:
        return [s for (s,) in db.execute('SELECT state FROM jobs ORDER BY id')]
    finally:
        db.close()


def run_checks(c, mf, src, dst):
    """mailferry run checks the forests that are due (health_interval_min),
    in a thread of its own, while the migrations go on."""
    clear_alerts(mf.store)
    mf.endpoint_add('new', dst)
    corpus.bulk(src, 'user001', 40)
    mf.run('config', 'set', 'health_interval_min', '0')
    mf.run('queue', 'old', 'new', 'user001')
    r = mf.run('run')
    c.check(r.rc == 0 and not alert_times(mf.store),
            'health_interval_min 0: run migrates and checks no forest', r)

    mf.run('config', 'set', 'health_interval_min', '1')
    clock = os.path.join(mf.dir, 'clock')
    t0 = int(time.time())
    with open(clock, 'w') as f:
        f.write('%d\n' % t0)
    corpus.bulk(src, 'user003', 1500, folders=['INBOX'] + ['f%d' % i for i in range(1, 6)])
    # A slow path to the target keeps the job running for a while.
    with proxy.Proxy(('127.0.0.1', dst.port), delay_ms=15) as slow:
        mf.endpoint_add('slow', proxy.Via(dst, slow))
        mf.run('queue', 'old', 'slow', 'user003')
        p = mf.start('run', env={'MAILFERRY_TEST_CLOCK': clock})
        first = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not first and p.poll() is None:
            first = alert_times(mf.store)
            time.sleep(0.1)
        c.check(first and min(first) >= t0 and p.poll() is None,
                'run checks the never-checked forest at its start while the job runs (%d results)' % len(first),
                first)
        with open(clock, 'w') as f:
            f.write('%d\n' % (t0 + 120))
        again = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and p.poll() is None:
            again = [t for t in alert_times(mf.store) if t >= t0 + 120]
            if again:
                break
            time.sleep(0.1)
        running = p.poll() is None
        r = mf.finish(p)
        c.check(again and running, 'two (test) minutes later the run checks it again, the job still running', r)
        c.check(r.rc == 0 and job_states(mf)[-1] == 'completed', 'the job completes meanwhile', r)
        c.info('run with a slow target: %.1f s' % r.seconds)
    mf.run('config', 'set', 'health_interval_min', '0')


if __name__ == '__main__':
    report.main(main, 'test_health')
