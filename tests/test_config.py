#!/usr/bin/python3
"""Settings from the command line (docs/CLI.md "Settings"): config show / get / set
round trip, bad values rejected with exit 78 and a message naming the key and what
is allowed, the saved file still loads, the default location is created; and
`mailferry about` (also `--version --verbose`).

No IMAP server needed.
Run: MAILFERRY=./mailferry python3 tests/test_config.py   (exit 0 pass, 77 skip, 1 fail)
"""

import os
import re
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, report, fixtures                        # noqa: E402

TABS = ('General', 'Activities', 'Mailboxes', 'Workers', 'Scripts', 'Notifications')


def parse_show(out):
    """{key: (tab, value, is_default, help)} from `config show`."""
    keys, tab, last = {}, None, None
    for line in out.splitlines():
        if line in TABS:
            tab = line
        m = re.match(r'^  (\w+) = (.*?)(   \[default\])?$', line)
        if m:
            last = m.group(1)
            keys[last] = [tab, m.group(2), bool(m.group(3)), None]
        elif line.startswith('      ') and last and keys[last][3] is None:
            keys[last][3] = line.strip()
    return {k: tuple(v) for k, v in keys.items()}


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def main(c):
    cli.require_binary()
    mf = cli.Mailferry()
    try:
        run_checks(c, mf)
    finally:
        mf.cleanup()


def run_checks(c, mf):
    check_show(c, mf)
    check_set_get(c, mf)
    check_rejects(c, mf)
    check_hand_written(c, mf)
    check_new_files(c, mf)
    check_read_only(c, mf)
    check_about(c, mf)


def check_show(c, mf):
    r = mf.run('config', 'show')
    keys = parse_show(r.out)
    c.check(r.rc == 0 and len(keys) >= 13, 'config show: %d settings' % len(keys), r)
    c.check(all(v[0] in TABS and v[2] and v[3] for v in keys.values()),
            'config show: every setting under a tab, at its default, with a help line', r)
    c.check(keys.get('workers', ('',))[0] == 'Workers' and keys.get('log_level', ('',))[0] == 'General',
            'config show: workers on the Workers tab, log_level on General', r)
    c.check('Allowed: a whole number from 1 to 256.  Default: 4.  Needs an engine restart.' in r.out,
            'config show: allowed values, default and restart note', r)
    for k, v in sorted(keys.items()):
        g = mf.run('config', 'get', k)
        shown = '' if v[1] == '(none)' else v[1]
        if not c.check(g.rc == 0 and g.out == shown + '\n', 'config get %s = show value' % k, (g, v)):
            break
    r = mf.run('config', 'show', '--tab', 'workers')
    tabbed = parse_show(r.out)
    c.check(r.rc == 0 and tabbed and all(v[0] == 'Workers' for v in tabbed.values()) and
            set(tabbed) == {k for k, v in keys.items() if v[0] == 'Workers'},
            'config show --tab workers: exactly the Workers settings', r)
    r = mf.run('config', 'show', '--tab', 'Scripts')
    tabbed = parse_show(r.out)
    c.check(r.rc == 0 and set(tabbed) == {'script_before_first_pass', 'script_after_completion',
                                          'script_on_failure', 'script_at_cutover', 'script_timeout_s'},
            'config show --tab Scripts: the four scripts and their time limit', r)
    r = mf.run('config', 'show', '--tab', 'licenses')
    c.check(r.rc == 64 and fixtures.one_line_error(r) and 'licenses' in r.err,
            'config show --tab licenses: usage error 64', r)


SETS = [
    ('workers', '8', '8'),
    ('timeout_s', '30', '30'),
    ('retry_max', '0', '0'),
    ('log_level', 'debug', 'debug'),
    ('verify_after_copy', 'no', 'false'),
    ('separator_char', '.', '.'),
    ('bad_item_limit', '1000000', '1000000'),
]


def check_set_get(c, mf):
    odd = os.path.join(mf.dir, 'logs dir', 'mf "quoted" \\ ö.log')
    sets = SETS + [('log_path', odd, odd), ('store_path', '~/elsewhere.db',
                                            os.path.join(mf.dir, 'home', 'elsewhere.db'))]
    for key, value, text in sets:
        r = mf.run('config', 'set', key, value)
        c.check(r.rc == 0 and r.out.startswith('%s = %s (saved in %s)' % (key, text, mf.config)),
                'config set %s %r' % (key, value), r)
    mode = stat.S_IMODE(os.stat(mf.config).st_mode)
    c.check(mode == 0o600, 'saved file keeps its mode (%o)' % mode)
    # Every value back, from a fresh process reading the saved file.
    r = mf.run('config', 'show')
    keys = parse_show(r.out)
    for key, value, text in sets:
        g = mf.run('config', 'get', key)
        c.check(g.rc == 0 and g.out == text + '\n' and keys.get(key, ('', '', True))[1] == text and
                not keys[key][2], 'round trip: %s = %r, not marked default' % (key, text), (g, r))
    c.check(keys.get('max_connections_per_server', ('', '', False))[2],
            'round trip: untouched settings still at their default', r)
    body = read(mf.config).decode()
    c.check('\nworkers = 8;\n' in body and '\n# max_connections_per_server = 10;\n' in body,
            'file: changed keys written, defaults commented out', body)
    # The store path from the file is the one in use (no -s here).
    r = mf.run('about', global_opts=False, env={'MAILFERRY_CONFIG': mf.config})
    c.check(r.rc == 0 and os.path.join(mf.dir, 'home', 'elsewhere.db') in r.out,
            'about (no -s): store_path from the saved file is in use', r)
    r = mf.run('config', 'set', 'log_path', '')
    g = mf.run('config', 'get', 'log_path')
    c.check(r.rc == 0 and g.rc == 0 and g.out == '\n', 'config set log_path "": none again', (r, g))
    for key, value in (('store_path', '$XDG_DATA_HOME/mailferry/mailferry.db'),):
        r = mf.run('config', 'set', key, value)
        g = mf.run('config', 'show', '--tab', 'general')
        c.check(r.rc == 0 and parse_show(g.out).get(key, ('', '', False))[2],
                'config set %s back to the default text: [default] again' % key, (r, g))


REJECTS = [
    (('workers', '0'), 'workers: must be a whole number from 1 to 256, not "0"'),
    (('workers', 'eight'), 'workers: must be a whole number from 1 to 256, not "eight"'),
    (('timeout_s', '1e3'), 'timeout_s: must be a whole number from 1 to 86400, not "1e3"'),
    (('log_level', 'verbose'), 'log_level: must be one of error, warn, info, debug, trace, not "verbose"'),
    (('verify_after_copy', 'maybe'), 'verify_after_copy: must be true or false, not "maybe"'),
    (('separator_char', '%'), 'separator_char: must be a single printable ASCII character other '
                              "than space, '*' and '%', not \"%\""),
    (('store_path', ''), 'store_path: must be a file path (not empty), not ""'),
    (('wrokers', '3'), 'unknown setting "wrokers" (did you mean "workers"?)'),
]


def check_rejects(c, mf):
    before = read(mf.config)
    for args, msg in REJECTS:
        r = mf.run('config', 'set', *args)
        c.check(r.rc == 78 and r.err == 'mailferry: %s\n' % msg and r.out == '',
                'config set %s %r: exit 78, "%s"' % (args[0], args[1], msg), r)
    r = mf.run('config', 'get', 'wrokers')
    c.check(r.rc == 78 and 'did you mean "workers"' in r.err, 'config get unknown key: exit 78', r)
    for args in (('config', 'set', 'workers'), ('config', 'get'), ('config',), ('config', 'frob')):
        r = mf.run(*args)
        c.check(r.rc == 64 and fixtures.one_line_error(r), '%s: usage error 64' % ' '.join(args), r)
    c.check(read(mf.config) == before, 'rejected values leave the file byte for byte')
    r = mf.run('config', 'get', 'workers')
    c.check(r.rc == 0 and r.out == '8\n', 'the file still loads after the rejects', r)


def check_hand_written(c, mf):
    mf.write_config(text='# my own notes\nworkers = 3;   # three is enough\nretry_max = 7;\n')
    r = mf.run('config', 'set', 'timeout_s', '45')
    body = read(mf.config).decode()
    c.check(r.rc == 0 and 'saved by mailferry' in body and 'not kept' in body and
            'mailferry.conf.example' in body and 'my own notes' not in body,
            'hand-written file: rewritten, header says comments are not kept and where the '
            'example is', body)
    vals = [mf.run('config', 'get', k).out.strip() for k in ('workers', 'retry_max', 'timeout_s')]
    c.check(vals == ['3', '7', '45'], 'hand-written file: its values kept (%s)' % vals)
    leftovers = [n for n in os.listdir(mf.dir) if n.startswith('.mailferry.conf.')]
    c.check(not leftovers, 'no temporary file left next to the configuration', leftovers)


def check_new_files(c, mf):
    # -c naming a file (and directories) that do not exist yet: config set creates them.
    path = os.path.join(mf.dir, 'new', 'deeper', 'mf.conf')
    r = mf.run('-c', path, 'config', 'set', 'workers', '5', global_opts=False)
    g = mf.run('-c', path, 'config', 'get', 'workers', global_opts=False)
    c.check(r.rc == 0 and g.out == '5\n', 'config set with -c on a new file creates it', (r, g))
    g = mf.run('-c', os.path.join(mf.dir, 'absent.conf'), 'config', 'get', 'workers',
               global_opts=False)
    c.check(g.rc == 78, 'config get with -c on a missing file: exit 78', g)
    # No -c: the default location under XDG_CONFIG_HOME, directory made 0700.
    r = mf.run('config', 'set', 'retry_max', '9', global_opts=False)
    default = os.path.join(mf.dir, 'config', 'mailferry', 'mailferry.conf')
    g = mf.run('config', 'get', 'retry_max', global_opts=False)
    ok = r.rc == 0 and os.path.isfile(default) and g.out == '9\n'
    c.check(ok and stat.S_IMODE(os.stat(os.path.dirname(default)).st_mode) == 0o700,
            'config set without -c: $XDG_CONFIG_HOME/mailferry/mailferry.conf created', (r, g))


def run_unprivileged(mf, *args):
    """As root, runs mailferry as nobody (root writes into any directory); the
    temp folder is opened for traversal meanwhile.  Returns a cli.Result."""
    import shutil
    import subprocess
    argv = mf.argv(args, global_opts=False)
    # The build tree may sit where nobody can reach it (CI clones into a
    # mode-700 temp folder): run a copy of the binary from the test folder.
    exe = os.path.join(mf.dir, 'mailferry-nobody')
    if not os.path.exists(exe):
        shutil.copy2(argv[0], exe)
        os.chmod(exe, 0o755)
    argv = [exe] + argv[1:]
    os.chmod(mf.dir, 0o711)
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=mf.env(), cwd='/',
                           user=65534, group=65534, extra_groups=[], timeout=60)
    finally:
        os.chmod(mf.dir, 0o700)
    return cli.Result(argv, p.returncode, p.stdout.decode(), p.stderr.decode(), 0)


def check_read_only(c, mf):
    d = os.path.join(mf.dir, 'ro')
    os.mkdir(d)
    path = os.path.join(d, 'mf.conf')
    with open(path, 'w') as f:
        f.write('workers = 2;\n')
    os.chmod(path, 0o644)
    os.chmod(d, 0o555)
    try:
        if os.geteuid() == 0:
            r = run_unprivileged(mf, '-c', path, 'config', 'set', 'workers', '6')
        else:
            r = mf.run('-c', path, 'config', 'set', 'workers', '6', global_opts=False)
        c.check(r.rc == 78 and fixtures.one_line_error(r) and 'cannot save' in r.err and
                d in r.err, 'read-only directory: exit 78 naming the directory', r)
        c.check(read(path) == b'workers = 2;\n' and os.listdir(d) == ['mf.conf'],
                'read-only directory: old file untouched, nothing left beside it')
    finally:
        os.chmod(d, 0o755)


def check_about(c, mf):
    r = mf.run('about')
    lines = dict(l.split(None, 1) for l in r.out.splitlines() if len(l.split(None, 1)) == 2)
    v = mf.run('--version')
    version = v.out.split()[1] if v.rc == 0 and len(v.out.split()) > 1 else '?'
    c.check(r.rc == 0 and lines.get('mailferry') == version,
            'about: mailferry %s (as --version says)' % version, r)
    for label, pattern in (('build', r'compiler'), ('SQLite', r'^\d+\.\d+'),
                           ('libcurl', r'^\d+\.\d+.*, TLS \S+'), ('libxml2', r'^\d+\.\d+'),
                           ('libconfig', r'^\d+\.\d+'), ('libcrypto', r'\d+\.\d+'),
                           ('LDAP', r'\d+\.\d+\.\d+'), ('ncurses', r'\d+\.\d+')):
        c.check(re.search(pattern, lines.get(label, '')), 'about: %s line (%s)' % (
            label, lines.get(label)), r)
    c.check(lines.get('configuration') == mf.config and lines.get('store', '').startswith(mf.store),
            'about: the configuration file and the store in use', r)
    vv = mf.run('--version', '--verbose')
    c.check(vv.rc == 0 and vv.out == r.out and vv.err == '', 'mailferry --version --verbose = about', vv)
    r = mf.run('about', 'extra')
    c.check(r.rc == 64, 'about with an argument: usage error 64', r)


if __name__ == '__main__':
    report.main(main, 'test_config')
