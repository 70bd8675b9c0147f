#!/usr/bin/python3
"""Command-line contract (docs/CLI.md): bad input gives a clear one-line error and
the documented exit code, and leaves the store unharmed; endpoints; passwords
never leak; TLS verification.  Every command main.c dispatches (and every
subcommand its usage errors list) is in --help, the man page's SYNOPSIS and
docs/CLI.md.

Run: MAILFERRY=src/mailferry python3 tests/test_cli.py   (exit 0 pass, 77 skip, 1 fail)
"""

import base64
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, report, fixtures                        # noqa: E402
from mftest.dovecot import Dovecot, free_port                    # noqa: E402

# A password that needs quoting in LOGIN and survives SASL PLAIN (no ':' for passwd-file)
TRICKY = 'p"a ss\\wörd-%s' % os.urandom(4).hex()


def leak_forms(password, admin='admin', users=('user001',)):
    """The password as bytes, and the SASL PLAIN / LOGIN forms a trace could show."""
    forms = [password.encode('utf-8')]
    for authz in ('',) + tuple(users):
        forms.append(base64.b64encode(('%s\0%s\0%s' % (authz, admin, password)).encode()))
    forms.append(base64.b64encode(password.encode('utf-8')))
    forms.append(password.replace('\\', '\\\\').replace('"', '\\"').encode('utf-8'))
    return forms


def main(c):
    fixtures.require()
    mf = cli.Mailferry()
    try:
        docs_name_every_command(c, mf)
        with Dovecot(name='plain', users=5, admin_password=TRICKY) as srv, \
                Dovecot(name='tls', users=5, imaps=True) as tls:
            run_checks(c, mf, srv, tls)
    finally:
        mf.cleanup()


SRCDIR = os.environ.get('MF_SRCDIR') or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_src(*path):
    with open(os.path.join(SRCDIR, *path), encoding='utf-8') as f:
        return f.read()


def docs_name_every_command(c, mf):
    """The commands are read from main()'s dispatch (strcmp(cmd, "X")) and the
    subcommands from the usage error of a command given none ("needs a
    subcommand: a, b, c"), so a new one cannot be left out of the docs."""
    main_c = read_src('src', 'main.c')
    dispatch = main_c[main_c.index('int main('):]
    commands = sorted(set(re.findall(r'strcmp\(cmd, "([a-z-]+)"\)', dispatch)))
    c.check(len(commands) >= 20, 'main.c dispatches %d commands' % len(commands), commands)
    names = list(commands)
    for cmd in commands:
        r = mf.run(cmd)
        m = re.search(r'needs a subcommand: ([a-z, -]+?) \(', r.err)
        if m:
            names += ['%s %s' % (cmd, sub.strip()) for sub in m.group(1).split(',')]
    help_text = mf.run('--help').out
    man = read_src('data', 'mailferry.1')
    synopsis = man[man.index('.SH SYNOPSIS'):man.index('.SH DESCRIPTION')]
    synopsis = re.sub(r'\\f[BIRP]', '', synopsis).replace('\\-', '-').replace('\\&', '')
    cli_md = read_src('docs', 'CLI.md')
    for where, text, form in (('--help', help_text, r'(?<![\w-])%s(?![\w-])'),
                              ('mailferry(1) SYNOPSIS', synopsis, r'(?<![\w-])%s(?![\w-])'),
                              ('docs/CLI.md', cli_md, r'(?:mailferry |`)%s(?![\w-])')):
        missing = [n for n in names if not re.search(form % re.escape(n), text)]
        c.check(not missing, '%s names every command and subcommand (%d)' % (where, len(names)), missing)


def unharmed(c, mf, baseline, what):
    r = mf.run('endpoint', 'list')
    integ = mf.store_integrity()
    c.check(r.rc == 0 and r.out == baseline.out and integ in ('ok', 'missing'),
            '%s: store unharmed (integrity %s, endpoint list unchanged)' % (what, integ), r)


def expect_error(c, mf, baseline, what, r, codes, also=None):
    codes = codes if isinstance(codes, tuple) else (codes,)
    c.check(r.rc in codes, '%s: exit %s (expected %s)' % (what, r.rc, '/'.join(map(str, codes))), r)
    c.check(fixtures.one_line_error(r), '%s: one-line error message' % what, r)
    if also:
        for needle_ok, label in also:
            c.check(needle_ok(r), '%s: %s' % (what, label), r)
    unharmed(c, mf, baseline, what)


def add_then_use(c, mf, baseline, what, name, add_args, codes, use=None, input=None):
    """Errors that may be caught at 'endpoint add' or only when the endpoint is
    used ('endpoint test'): either is accepted, with the documented code."""
    r = mf.run('endpoint', 'add', name, *add_args, input=input)
    if r.rc == 0:
        r = mf.run(*(use or ('endpoint', 'test', name)))
        mf.run('endpoint', 'remove', name)
        expect_error(c, mf, baseline, what + ' (found at use)', r, codes)
    else:
        expect_error(c, mf, baseline, what + ' (found at add)', r, codes)


def run_checks(c, mf, srv, tls):
    r = mf.run('endpoint', 'list')
    c.check(r.rc == 0, 'endpoint list on an empty store', r)

    # --- endpoints that work
    r = mf.endpoint_add('src', srv, check=False)
    c.check(r.rc == 0, 'endpoint add src %s --password-file (0600)' % srv.url, r)
    r = mf.run('endpoint', 'list')
    c.check(r.rc == 0 and 'src' in r.out and '127.0.0.1:%d' % srv.port in r.out,
            'endpoint list shows src with its URL', r)
    c.check(TRICKY not in r.out and TRICKY not in r.err, 'endpoint list does not show the password')
    r = mf.run('endpoint', 'list', 'extra')
    c.check(r.rc == 64 and "unexpected argument 'extra' for endpoint list" in r.err,
            'endpoint list with an extra argument: exit 64 naming it', r)
    r = mf.run('console', '--keys', 'extra')
    c.check(r.rc == 64 and "unexpected argument 'extra' for console --keys" in r.err,
            'console --keys with an extra argument: exit 64 naming it', r)
    r = mf.run('endpoint', 'test', 'src')
    c.check(r.rc == 0, 'endpoint test src (admin logs in as itself)', r)
    r = mf.run('endpoint', 'test', 'src', '--mailbox', 'user001')
    c.check(r.rc == 0, 'endpoint test src --mailbox user001 (SASL PLAIN authzid)', r)
    r = mf.run('-v', '-v', 'endpoint', 'test', 'src', '--mailbox', 'user002')
    c.check(r.rc == 0, 'endpoint test with -v -v (protocol trace)', r)
    for source in ('env', 'cmd', 'stdin'):
        name = 'src-' + source
        r = mf.endpoint_add(name, srv, source=source, check=False)
        ok = r.rc == 0
        if ok:
            r = mf.run('endpoint', 'test', name, '--mailbox', 'user001')
            ok = r.rc == 0
        c.check(ok, 'password source --password-%s: add and test' % source, r)
    r = mf.endpoint_add('tmpl', srv, template='%u*admin', check=False)
    if r.rc == 0:
        r = mf.run('endpoint', 'test', 'tmpl', '--mailbox', 'user003')
    c.check(r.rc == 0, "--login-template '%u*admin' (LOGIN user*admin)", r)
    r = mf.endpoint_add('src-login', srv, auth='login', check=False)
    if r.rc == 0:
        r = mf.run('endpoint', 'test', 'src-login')
    c.check(r.rc == 0, '--auth login', r)

    # --- secrets: store, outputs, files
    stored = mf.store_bytes()
    leaks = [f for f in leak_forms(TRICKY) if f in stored]
    c.check(stored and not leaks, 'password absent from the SQLite store bytes (%d bytes, %d files)'
            % (len(stored), len(mf.store_files())), leaks)
    outs = [(r.argv, f) for r in mf.history for f in leak_forms(TRICKY)
            if f.decode('utf-8', 'replace') in r.out + r.err]
    c.check(not outs, 'password absent from every stdout/stderr so far (incl. -v -v traces)',
            outs[:3])
    hits = [(p, oct(m)) for p, m in mf.files_containing(TRICKY.encode('utf-8'))
            if not os.path.basename(p).startswith('pw-')]
    c.check(all(m == '0o600' for p, m in hits) and not any(p in mf.store_files() for p, _ in hits),
            'a file keeping the --password-stdin secret is mode 0600 and not the store', hits)

    baseline = mf.run('endpoint', 'list')

    # --- usage errors (64)
    expect_error(c, mf, baseline, 'no command', mf.run(), 64)
    expect_error(c, mf, baseline, 'unknown command', mf.run('frobnicate'), 64)
    expect_error(c, mf, baseline, 'endpoint add without URL',
                 mf.run('endpoint', 'add', 'x'), 64)
    pwf = mf.write_password_file('usage', 'whatever')
    expect_error(c, mf, baseline, 'endpoint add without a password source',
                 mf.run('endpoint', 'add', 'x', srv.url, '--user', 'admin'), 64)
    expect_error(c, mf, baseline, 'endpoint add with two password sources',
                 mf.run('endpoint', 'add', 'x', srv.url, '--user', 'admin',
                        '--password-file', pwf, '--password-env', 'HOME'), 64)
    expect_error(c, mf, baseline, 'migrate without MAILBOX', mf.run('migrate', 'src', 'src'), 64)
    expect_error(c, mf, baseline, 'migrate --pass bogus',
                 mf.run('migrate', 'src', 'src-env', 'user001', '--pass', 'bogus'), 64)

    # --- configuration errors (78)
    for url in ('ftp://x', 'imap://', 'imaps://', 'not a url'):
        r = mf.run('endpoint', 'add', 'bad', url, '--user', 'admin', '--password-file', pwf)
        expect_error(c, mf, baseline, 'bad URL %r' % url, r, 78)
    for what, path in (('missing password file', os.path.join(mf.dir, 'no-such-file')),
                       ('password file that is a directory', mf.dir)):
        add_then_use(c, mf, baseline, what, 'pwbad',
                     [srv.url, '--user', 'admin', '--password-file', path], 78)
    for mode in (0o640, 0o604):
        p = mf.write_password_file('mode%o' % mode, srv.admin_password, mode=mode)
        add_then_use(c, mf, baseline, 'password file with mode %o' % mode, 'pwmode',
                     [srv.url, '--user', 'admin', '--password-file', p], 78)
    expect_error(c, mf, baseline, 'endpoint test of an unknown endpoint',
                 mf.run('endpoint', 'test', 'nosuch'), 78)
    expect_error(c, mf, baseline, 'migrate from an unknown endpoint',
                 mf.run('migrate', 'nosuch', 'src', 'user001'), 78)
    expect_error(c, mf, baseline, 'migrate to an unknown endpoint',
                 mf.run('migrate', 'src', 'nosuch', 'user001'), 78)
    expect_error(c, mf, baseline, 'endpoint remove of an unknown endpoint',
                 mf.run('endpoint', 'remove', 'nosuch'), 78)
    bad_conf = os.path.join(mf.dir, 'broken.conf')
    with open(bad_conf, 'w') as f:
        f.write('# a broken configuration\nworkers = 2;\nthis is = = not libconfig {\n')
    r = mf.run('-c', bad_conf, '-s', mf.store, 'endpoint', 'list', global_opts=False)
    expect_error(c, mf, baseline, 'corrupt config file', r, 78,
                 also=[(lambda r: ('broken.conf:3' in r.err or bad_conf + ':3' in r.err),
                        'message names file:line (broken.conf:3)')])
    r = mf.run('-c', os.path.join(mf.dir, 'absent.conf'), '-s', mf.store, 'endpoint', 'list',
               global_opts=False)
    c.check(r.rc in (0, 78), 'explicit -c to a missing file: exit %s (0 or 78)' % r.rc, r)

    # --- temporary failure (75): nothing listens on the port
    closed = free_port()
    r = mf.run('endpoint', 'add', 'closed', 'imap://127.0.0.1:%d' % closed, '--user', 'admin',
               '--password-file', pwf)
    c.check(r.rc in (0, 75), 'endpoint add for a closed port: exit %s (0, or 75 if it connects)'
            % r.rc, r)
    if r.rc == 0:
        expect_error(c, mf, baseline_after(mf), 'endpoint test, closed port',
                     mf.run('endpoint', 'test', 'closed'), 75)
        expect_error(c, mf, baseline_after(mf), 'migrate from a closed port',
                     mf.run('migrate', 'closed', 'src', 'user001', timeout=180), 75)
        mf.run('endpoint', 'remove', 'closed')
    baseline = mf.run('endpoint', 'list')

    # --- authentication failure (77)
    pw_wrong = mf.write_password_file('wrong', 'not-the-password')
    r = mf.run('endpoint', 'add', 'wrongpw', srv.url, '--user', 'admin', '--password-file',
               pw_wrong)
    c.check(r.rc in (0, 77), 'endpoint add with a wrong password: exit %s (0, or 77 if it logs in)'
            % r.rc, r)
    if r.rc == 0:
        b = baseline_after(mf)
        expect_error(c, mf, b, 'endpoint test, wrong password', mf.run('endpoint', 'test', 'wrongpw'), 77)
        expect_error(c, mf, b, 'endpoint test --mailbox, wrong password',
                     mf.run('endpoint', 'test', 'wrongpw', '--mailbox', 'user001'), 77)
        expect_error(c, mf, b, 'migrate with a wrong source password',
                     mf.run('migrate', 'wrongpw', 'src', 'user001', timeout=180), 77)
        mf.run('endpoint', 'remove', 'wrongpw')
    r = mf.run('endpoint', 'test', 'src', '--mailbox', 'nosuchuser')
    c.check(r.rc == 77, 'endpoint test --mailbox of an unknown user: exit %s (77)' % r.rc, r)

    # --- TLS: certificate verification and --insecure
    for label, url in (('imaps', tls.imaps_url), ('STARTTLS', tls.url)):
        name = 'tls-' + label.lower()
        r = mf.run('endpoint', 'add', name, url, '--user', 'admin', '--password-file',
                   mf.write_password_file(name, tls.admin_password))
        if r.rc == 0:
            r = mf.run('endpoint', 'test', name)
        c.check(r.rc in (78, 75), '%s with a self-signed certificate, no --insecure: exit %s '
                '(78 or 75)' % (label, r.rc), r)
        c.check('certific' in r.err.lower(), '%s: the error mentions the certificate' % label, r)
        c.check(fixtures.one_line_error(r), '%s: one-line error' % label, r)
        mf.run('endpoint', 'remove', name)
        r = mf.endpoint_add(name + '-insecure', tls, url=url, insecure=True, check=False)
        if r.rc == 0:
            r = mf.run('endpoint', 'test', name + '-insecure', '--mailbox', 'user001')
        c.check(r.rc == 0, '%s with --insecure works' % label, r)

    # --- remove
    r = mf.run('endpoint', 'remove', 'src-cmd')
    r2 = mf.run('endpoint', 'list')
    c.check(r.rc == 0 and 'src-cmd' not in r2.out and 'src-env' in r2.out,
            'endpoint remove src-cmd (others stay)', (r, r2))

    # --- final leak sweep over everything that ran
    stored = mf.store_bytes()
    leaks = [f for f in leak_forms(TRICKY) + leak_forms(tls.admin_password) if f in stored]
    c.check(not leaks, 'no password in the store at the end', leaks)
    outs = [' '.join(r.argv[-4:]) for r in mf.history
            for f in leak_forms(TRICKY) + leak_forms(tls.admin_password)
            if f.decode('utf-8', 'replace') in r.out + r.err]
    c.check(not outs, 'no password in any output of %d runs' % len(mf.history), outs[:5])
    c.check(mf.store_integrity() == 'ok', 'store integrity_check ok at the end')


def baseline_after(mf):
    return mf.run('endpoint', 'list')


if __name__ == '__main__':
    report.main(main, 'test_cli')
