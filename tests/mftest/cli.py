"""Run the mailferry binary with a private store, config and environment.

    mf = Mailferry()                              # binary from env MAILFERRY
    mf.endpoint_add('src', src_dovecot)           # admin password via --password-file (0600)
    r = mf.run('migrate', 'src', 'dst', 'user001')
    r.rc, r.out, r.err                            # exit code, stdout, stderr (str)
    killed, r = mf.kill_after(0.7, 'migrate', 'src', 'dst', 'user001')   # kill -9
    mf.cleanup()

Every run gets `-c CONFIG -s STORE` (both in the temp folder) and an environment
whose HOME and XDG_* folders point into the temp folder, so nothing outside it is
read or written.  MAILFERRY_CONFIG / MAILFERRY_STORE are removed from the environment.

The config file is libconfig syntax (`key = value;`); by default it holds only a
comment, so every setting has its built-in default.
"""

import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def find_binary():
    """Path of the mailferry binary: $MAILFERRY if set (even if it does not exist),
    else the first of $MF_BUILDDIR/mailferry, $MF_SRCDIR/mailferry, <repo>/mailferry,
    <repo>/build/mailferry (and the same with src/) that exists; else None."""
    env = os.environ.get('MAILFERRY')
    if env:
        return env
    dirs = [os.environ.get(v) for v in ('MF_BUILDDIR', 'MF_SRCDIR')]
    dirs = [d for d in dirs if d] + [REPO, os.path.join(REPO, 'build')]
    cands = []
    for d in dirs:
        cands += [os.path.join(d, 'mailferry'), os.path.join(d, 'src', 'mailferry')]
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def require_binary():
    """Exit 77 (skip) when MAILFERRY is unset and no binary is found; exit 1 when
    MAILFERRY is set but not executable.  Returns the path."""
    path = find_binary()
    if path is None:
        print('SKIP: mailferry binary not found (set MAILFERRY)')
        sys.exit(77)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        print('FAIL: MAILFERRY=%s is not an executable file' % path)
        sys.exit(1)
    return path


class Result:
    def __init__(self, argv, rc, out, err, seconds, killed=False, timed_out=False):
        self.argv = argv
        self.rc = rc
        self.out = out
        self.err = err
        self.seconds = seconds
        self.killed = killed
        self.timed_out = timed_out

    @property
    def text(self):
        return self.out + '\n' + self.err

    def err_lines(self):
        return [l for l in self.err.splitlines() if l.strip()]

    def __str__(self):
        def cut(s, n=1500):
            return s if len(s) <= n else s[:n // 2] + '\n...\n' + s[-n // 2:]
        return ('$ %s\n  -> exit %s%s%s after %.2fs\n  stdout: %s\n  stderr: %s' % (
            ' '.join(shlex.quote(a) for a in self.argv), self.rc,
            ' (killed)' if self.killed else '', ' (TIMEOUT)' if self.timed_out else '',
            self.seconds, cut(self.out).replace('\n', '\n          '),
            cut(self.err).replace('\n', '\n          ')))


def libconfig_value(v):
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, int):
        return str(v)
    return '"' + str(v).replace('\\', '\\\\').replace('"', '\\"') + '"'


class Mailferry:
    def __init__(self, binary=None, settings=None, keep=False, verbose=0):
        self.binary = binary or find_binary()
        self.dir = tempfile.mkdtemp(prefix='mftest-mf-')
        self.keep = keep or bool(os.environ.get('MFTEST_KEEP'))
        self.store = os.path.join(self.dir, 'store.db')
        self.config = os.path.join(self.dir, 'mailferry.conf')
        self.verbose = verbose
        self.password_files = {}
        self.passwords = {}
        self.history = []
        for d in ('home', 'config', 'data', 'state', 'cache'):
            os.mkdir(os.path.join(self.dir, d), 0o700)
        self.write_config(settings or {})

    # ------------------------------------------------------------ files
    def write_config(self, settings=None, text=None):
        with open(self.config, 'w') as f:
            if text is not None:
                f.write(text)
            else:
                f.write('# mailferry test configuration (mftest)\n')
                for k, v in (settings or {}).items():
                    f.write('%s = %s;\n' % (k, libconfig_value(v)))
        os.chmod(self.config, 0o600)

    def env(self, extra=None):
        e = dict(os.environ)
        for k in ('MAILFERRY_CONFIG', 'MAILFERRY_STORE'):
            e.pop(k, None)
        e.update(HOME=os.path.join(self.dir, 'home'),
                 XDG_CONFIG_HOME=os.path.join(self.dir, 'config'),
                 XDG_DATA_HOME=os.path.join(self.dir, 'data'),
                 XDG_STATE_HOME=os.path.join(self.dir, 'state'),
                 XDG_CACHE_HOME=os.path.join(self.dir, 'cache'),
                 TMPDIR=self.dir)
        e.setdefault('LANG', 'C.UTF-8')
        e.update(getattr(self, '_env_pw', {}))      # endpoints added with source='env'
        if extra:
            e.update(extra)
        return e

    def write_password_file(self, name, password, mode=0o600):
        path = os.path.join(self.dir, 'pw-' + name)
        with open(path, 'w') as f:
            f.write(password + '\n')
        os.chmod(path, mode)
        self.password_files[name] = path
        return path

    def argv(self, args, global_opts=True):
        a = [self.binary]
        if global_opts:
            a += ['-c', self.config, '-s', self.store]
        a += ['-v'] * self.verbose
        return a + [str(x) for x in args]

    # ------------------------------------------------------------ running
    def run(self, *args, timeout=120, input=None, env=None, global_opts=True):
        argv = self.argv(args, global_opts)
        t0 = time.monotonic()
        timed_out = False
        try:
            p = subprocess.run(argv, input=input.encode() if isinstance(input, str) else input,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=None if input is not None else subprocess.DEVNULL,
                               env=self.env(env), timeout=timeout, cwd=self.dir)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            timed_out = True
            rc, out, err = None, e.stdout or b'', e.stderr or b''
        r = Result(argv, rc, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace'),
                   time.monotonic() - t0, timed_out=timed_out)
        self.history.append(r)
        return r

    def start(self, *args, env=None):
        """Starts mailferry in the background; returns (Popen, stdout path, stderr path)."""
        argv = self.argv(args)
        n = len(self.history)
        outp = os.path.join(self.dir, 'bg-%d.out' % n)
        errp = os.path.join(self.dir, 'bg-%d.err' % n)
        with open(outp, 'wb') as o, open(errp, 'wb') as e:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                                 env=self.env(env), cwd=self.dir)
        p._mf = (argv, outp, errp, time.monotonic())
        return p

    def finish(self, p, timeout=120):
        """Waits for a start()ed process; returns its Result."""
        argv, outp, errp, t0 = p._mf
        timed_out = False
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            p.kill()
            p.wait()
        with open(outp, 'rb') as f:
            out = f.read().decode('utf-8', 'replace')
        with open(errp, 'rb') as f:
            err = f.read().decode('utf-8', 'replace')
        r = Result(argv, None if timed_out else p.returncode, out, err,
                   time.monotonic() - t0, timed_out=timed_out)
        self.history.append(r)
        return r

    def kill_after(self, delay, *args, timeout=120):
        """Runs mailferry and kill -9s it after `delay` seconds unless it ended first.
        Returns (killed, Result)."""
        p = self.start(*args)
        try:
            p.wait(delay)
            return False, self.finish(p, timeout)
        except subprocess.TimeoutExpired:
            pass
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        r = self.finish(p, timeout)
        r.killed = True
        return True, r

    def kill_random(self, rng, lo, hi, *args):
        """kill -9 at a random moment uniform in [lo, hi] seconds (seeded rng)."""
        return self.kill_after(rng.uniform(lo, hi), *args)

    # ------------------------------------------------------------ endpoints
    def endpoint_add(self, name, server, password=None, tls=False, insecure=False,
                     template=None, auth=None, source='file', user=None, url=None,
                     extra=(), check=True, file_mode=0o600):
        """endpoint add NAME URL --user ADMIN --password-file F (or another source:
        'file', 'env', 'cmd', 'stdin').  Returns the Result; raises AssertionError
        when check and the exit code is not 0."""
        if url is None:
            url = server.imaps_url if tls else server.url
        password = server.admin_password if password is None else password
        self.passwords[name] = password
        args = ['endpoint', 'add', name, url, '--user', user or server.admin]
        env = None
        inp = None
        if source == 'file':
            args += ['--password-file', self.write_password_file(name, password, file_mode)]
        elif source == 'env':
            var = 'MFTEST_PW_' + name.upper().replace('-', '_')
            args += ['--password-env', var]
            env = {var: password}
            self._env_pw = getattr(self, '_env_pw', {})
            self._env_pw[var] = password
        elif source == 'cmd':
            path = self.write_password_file(name, password)
            args += ['--password-cmd', 'cat ' + shlex.quote(path)]
        elif source == 'stdin':
            args += ['--password-stdin']
            inp = password + '\n'
        else:
            raise ValueError(source)
        if insecure:
            args.append('--insecure')
        if template:
            args += ['--login-template', template]
        if auth:
            args += ['--auth', auth]
        args += list(extra)
        r = self.run(*args, input=inp, env=env)
        if check and r.rc != 0:
            raise AssertionError('endpoint add %s failed:\n%s' % (name, r))
        return r

    def run_env(self):
        """Env vars needed by endpoints added with source='env'."""
        return dict(getattr(self, '_env_pw', {}))

    # ------------------------------------------------------------ store
    def store_files(self):
        return [p for p in (self.store, self.store + '-wal', self.store + '-shm',
                            self.store + '-journal') if os.path.exists(p)]

    def store_bytes(self):
        data = b''
        for p in self.store_files():
            with open(p, 'rb') as f:
                data += f.read()
        return data

    def store_integrity(self):
        """'ok' when SQLite's integrity_check passes (read-only open), else the error."""
        if not os.path.exists(self.store):
            return 'missing'
        try:
            con = sqlite3.connect('file:%s?mode=ro' % self.store, uri=True, timeout=10)
            try:
                row = con.execute('PRAGMA integrity_check').fetchone()
                return row[0]
            finally:
                con.close()
        except sqlite3.Error as e:
            return 'sqlite error: %s' % e

    def files_containing(self, needle):
        """Files under the temp folder whose bytes contain needle (bytes), with mode."""
        hits = []
        for dirpath, dirnames, filenames in os.walk(self.dir):
            for fn in filenames:
                p = os.path.join(dirpath, fn)
                try:
                    with open(p, 'rb') as f:
                        if needle in f.read():
                            hits.append((p, os.stat(p).st_mode & 0o777))
                except OSError:
                    pass
        return hits

    def cleanup(self):
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.cleanup()
        return False
