"""Throw-away Dovecot instances for tests.

Each instance has its own configuration file (never /etc/dovecot), temp folder,
base_dir, state_dir, instance_name, log file and loopback ports.  Example:

    with Dovecot(name='src', layout='fs') as src, \
         Dovecot(name='dst', special_names=TARGET_SPECIAL, max_mail_size=1 << 20) as dst:
        conn = src.connect('user001')          # master-user login, imaplib object
        ...

Facts established with Dovecot 2.3.19 on Debian 12 (see selftest.py, which checks them):
  * Mail is never accessed as root.  When we are root, mail belongs to a system
    user 'mailferry-test' (created with useradd when missing; 'nobody' as a
    fallback) and the temp folders are made traversable for it.
  * Master user: a passwd-file passdb with `master = yes` and `pass = yes`.
    SASL PLAIN with authzid=user, authcid=admin works, and so does
    LOGIN "user*admin" thanks to `auth_master_user_separator = *`.  The master
    user 'admin' is also a normal user (own mailbox) so that a plain login as
    the admin (no authzid) succeeds, as an "endpoint test" without a mailbox does.
  * Size limit: the quota plugin's `quota_max_mail_size` makes Dovecot reject
    larger APPENDs with "NO [LIMIT] Mail size is larger than the maximum size
    allowed by server configuration", but Dovecot 2.3.19 does NOT advertise it
    (no APPENDLIMIT capability, and STATUS (APPENDLIMIT) is a BAD command).  So
    we also set `imap_capability = +APPENDLIMIT=<bytes>`, which appends it to
    both the pre-login and post-login CAPABILITY.  The limit is compared with
    the message's CRLF size (what FETCH returns): exactly N bytes is accepted,
    N+1 refused (see MAX_SIZE_NOTES).
  * Separators: maildir++ layout (default) has separator '.', LAYOUT=fs has '/'.
    With the listescape plugin, the storage separator can appear inside
    folder names when the namespace separator differs (e.g. maildir++ storage
    with namespace separator '/' can hold "v1.2").
"""

import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import secrets

DOVECOT_BIN = os.environ.get('MF_DOVECOT', '/usr/sbin/dovecot')
# Dovecot's master gets SIGTERM if the test process dies without stopping it.
SETPRIV = shutil.which('setpriv')
MAIL_USER = 'mailferry-test'

# Special-use folder names: the source and target use different names on purpose.
SOURCE_SPECIAL = {
    'Sent Items': r'\Sent',
    'Drafts': r'\Drafts',
    'Deleted Items': r'\Trash',
    'Junk E-mail': r'\Junk',
    'Archive': r'\Archive',
}
TARGET_SPECIAL = {
    'Sent': r'\Sent',
    'Drafts': r'\Drafts',
    'Trash': r'\Trash',
    'Junk': r'\Junk',
    'Archives': r'\Archive',
}

MAX_SIZE_NOTES = """\
mail_plugins = quota (+ imap_quota for imap); plugin { quota = count:User quota;
quota_vsizes = yes; quota_max_mail_size = N }: an APPEND of more than N bytes
(CRLF size) is refused with 'NO [LIMIT] Mail size is larger than the maximum
size allowed by server configuration'; an APPEND of exactly N is accepted.
Dovecot 2.3.19 does not advertise the limit by itself; `imap_capability =
+APPENDLIMIT=N` adds APPENDLIMIT=N to the CAPABILITY list before and after
login (advertise_limit=False leaves it out, for a server that only enforces)."""


def have_dovecot():
    return os.access(DOVECOT_BIN, os.X_OK)


def free_port(host='127.0.0.1'):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _ensure_mail_user():
    """Returns (uid, gid, name) of the user that owns test mail."""
    if os.geteuid() != 0:
        pw = pwd.getpwuid(os.geteuid())
        return pw.pw_uid, os.getegid(), pw.pw_name
    try:
        pw = pwd.getpwnam(MAIL_USER)
        return pw.pw_uid, pw.pw_gid, pw.pw_name
    except KeyError:
        pass
    import fcntl
    useradd = shutil.which('useradd') or '/usr/sbin/useradd'
    # test scripts may run in parallel (make -j check): one useradd at a time
    with open(os.path.join(tempfile.gettempdir(), 'mftest-useradd.lock'), 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            try:
                pw = pwd.getpwnam(MAIL_USER)
            except KeyError:
                try:
                    subprocess.run([useradd, '--system', '--user-group', '--no-create-home',
                                    '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin',
                                    MAIL_USER], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=30)
                except (OSError, subprocess.SubprocessError):
                    pass
                try:
                    pw = pwd.getpwnam(MAIL_USER)
                except KeyError:
                    pw = pwd.getpwnam('nobody')
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return pw.pw_uid, pw.pw_gid, pw.pw_name


_cert_cache = {}
_live = set()          # started and not yet stopped: stopped at interpreter exit


def _stop_all():
    for d in list(_live):
        try:
            d.stop()
        except Exception:
            pass


import atexit          # noqa: E402
atexit.register(_stop_all)


def make_cert(dirpath, cn='127.0.0.1'):
    """Self-signed certificate made with the openssl CLI; returns (cert, key)."""
    cert = os.path.join(dirpath, 'cert.pem')
    key = os.path.join(dirpath, 'key.pem')
    cached = _cert_cache.get(cn)
    if cached and all(os.path.exists(p) for p in cached):
        shutil.copyfile(cached[0], cert)
        shutil.copyfile(cached[1], key)
    else:
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec',
                        '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                        '-keyout', key, '-out', cert, '-days', '30',
                        '-subj', '/CN=' + cn,
                        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60)
        _cert_cache[cn] = (cert, key)
    os.chmod(key, 0o600)
    return cert, key


def _q(s):
    """Quote a value for dovecot.conf."""
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


class DovecotError(Exception):
    pass


class Dovecot:
    """One Dovecot instance.

    name          label (used in instance_name, logs)
    layout        'maildir++' (separator '.') or 'fs' (maildir LAYOUT=fs, separator '/')
    separator     override the namespace separator (needs listescape to mean much)
    listescape    load the listescape plugin (escape char '\\')
    users         int (user001..userNNN) or list of names; passwords 'pw-<user>'
    admin         master user name; admin_password defaults to a random string
    special       {folder name: '\\Sent' ...} auto-created special-use folders
                  (defaults to SOURCE_SPECIAL; pass TARGET_SPECIAL for a target)
    max_mail_size per-message size limit in bytes (quota plugin), None for none
    advertise_limit  also list APPENDLIMIT=max_mail_size in CAPABILITY (default)
    fast_auth_failures  no delay or growing penalty after failed logins (default)
    imaps         also enable TLS: STARTTLS on the imap port and an imaps port
    tmpfs         put the instance (mail included) under /dev/shm
    extra_conf    text appended to the generated dovecot.conf
    prefix        personal namespace prefix (e.g. 'INBOX.', as Courier and Cyrus use)
    """

    def __init__(self, name='dovecot', layout='maildir++', separator=None, listescape=False,
                 users=12, admin='admin', admin_password=None, special=None,
                 max_mail_size=None, imaps=False, tmpfs=False, extra_conf='',
                 keep=False, verbose_auth=True, advertise_limit=True, fast_auth_failures=True,
                 prefix=''):
        if layout not in ('maildir++', 'fs'):
            raise ValueError('layout must be maildir++ or fs')
        self.name = name
        self.layout = layout
        self.separator = separator or ('/' if layout == 'fs' else '.')
        self.listescape = listescape
        self.prefix = prefix
        if isinstance(users, int):
            users = ['user%03d' % i for i in range(1, users + 1)]
        self.users = {u: 'pw-' + u for u in users}
        self.admin = admin
        self.admin_password = admin_password or ('adm-' + secrets.token_hex(8))
        self.special = dict(SOURCE_SPECIAL if special is None else special)
        self.max_mail_size = max_mail_size
        self.imaps = imaps
        self.tmpfs = tmpfs
        self.extra_conf = extra_conf
        self.keep = keep or bool(os.environ.get('MFTEST_KEEP'))
        self.verbose_auth = verbose_auth
        self.advertise_limit = advertise_limit
        self.fast_auth_failures = fast_auth_failures
        self.host = '127.0.0.1'
        self.port = None
        self.imaps_port = None
        self.proc = None
        self.dir = None
        self.startup_seconds = None

    # ---------------------------------------------------------------- paths
    @property
    def conf_path(self):
        return os.path.join(self.dir, 'dovecot.conf')

    @property
    def log_path(self):
        return os.path.join(self.dir, 'dovecot.log')

    def home(self, user):
        return os.path.join(self.dir, 'home', user)

    def maildir(self, user):
        return os.path.join(self.home(user), 'Maildir')

    def folder_path(self, user, folder):
        """On-disk maildir of an ASCII folder name (server separator), for writing
        files directly.  Non-ASCII names are stored in modified UTF-7 by Dovecot;
        pass the encoded name for those."""
        root = self.maildir(user)
        if folder.upper() == 'INBOX':
            return root
        parts = folder.split(self.separator)
        if self.layout == 'fs':
            return os.path.join(root, *parts)
        return os.path.join(root, '.' + '.'.join(parts))

    @property
    def url(self):
        return 'imap://%s:%d' % (self.host, self.port)

    @property
    def imaps_url(self):
        return 'imaps://%s:%d' % (self.host, self.imaps_port)

    def password(self, user):
        if user == self.admin:
            return self.admin_password
        return self.users[user]

    def add_user(self, user, password=None):
        """Adds a user to the passwd-file (takes effect at once)."""
        self.users[user] = password or ('pw-' + user)
        if self.dir:
            self._write_users()

    # ---------------------------------------------------------------- config
    def _write_users(self):
        path = os.path.join(self.dir, 'users.passwd')
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            for u, p in self.users.items():
                f.write('%s:{PLAIN}%s::::::\n' % (u, p))
            if self.admin not in self.users:
                f.write('%s:{PLAIN}%s::::::\n' % (self.admin, self.admin_password))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        mpath = os.path.join(self.dir, 'masters.passwd')
        with open(mpath, 'w') as f:
            f.write('%s:{PLAIN}%s::::::\n' % (self.admin, self.admin_password))
        os.chmod(mpath, 0o644)

    def _config(self):
        uid, gid, uname = self.mail_uid, self.mail_gid, self.mail_user
        root = os.geteuid() == 0
        loc = 'maildir:~/Maildir'
        if self.layout == 'fs':
            loc += ':LAYOUT=fs'
        mail_plugins = []
        if self.listescape:
            mail_plugins.append('listescape')
        if self.max_mail_size:
            mail_plugins.append('quota')
        caps = []
        if self.max_mail_size and self.advertise_limit:
            # Dovecot 2.3.19 enforces quota_max_mail_size but does not advertise it:
            # add APPENDLIMIT (RFC 7889) to the capability list ourselves.
            caps.append('APPENDLIMIT=%d' % self.max_mail_size)
        lines = []
        a = lines.append
        a('# generated by mftest.dovecot for %s' % self.name)
        a('instance_name = mftest-%s-%s' % (self.name, os.path.basename(self.dir)))
        a('base_dir = %s' % os.path.join(self.dir, 'run'))
        a('state_dir = %s' % os.path.join(self.dir, 'state'))
        a('log_path = %s' % self.log_path)
        a('info_log_path = %s' % self.log_path)
        a('debug_log_path = %s' % self.log_path)
        a('protocols = imap')
        a('listen = 127.0.0.1')
        a('shutdown_clients = yes')
        a('mail_fsync = never')
        a('mail_location = %s' % loc)
        a('mail_uid = %d' % uid)
        a('mail_gid = %d' % gid)
        a('first_valid_uid = %d' % min(uid, 500) if uid else 'first_valid_uid = 0')
        a('last_valid_uid = 0')
        a('first_valid_gid = %d' % (1 if gid else 0))
        a('mail_plugins = $mail_plugins %s' % ' '.join(mail_plugins))
        a('disable_plaintext_auth = no')
        a('auth_mechanisms = plain login')
        a('auth_master_user_separator = *')
        a('auth_verbose = %s' % ('yes' if self.verbose_auth else 'no'))
        a('auth_cache_size = 0')
        a('login_greeting = mftest %s ready.' % self.name)
        a('default_vsz_limit = 1G')
        if caps:
            a('imap_capability = +%s' % ' '.join(caps))
        if self.fast_auth_failures:
            # no 2 s delay per failed login, and no growing per-IP penalty (anvil
            # cannot be reached through a mode-0 socket, so auth disables it)
            a('auth_failure_delay = 0')
            a('service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}')
        if not root:
            a('default_internal_user = %s' % uname)
            a('default_internal_group = %s' % grp.getgrgid(os.getegid()).gr_name)
            a('default_login_user = %s' % uname)
            for svc in ('anvil', 'imap-login', 'auth-worker', 'stats', 'doveadm'):
                extra = 'user = $default_internal_user\n' if svc == 'auth-worker' else ''
                a('service %s {\n  chroot =\n  %s}' % (svc, extra))
        if self.imaps:
            a('ssl = yes')
            a('ssl_cert = <%s' % self.cert)
            a('ssl_key = <%s' % self.key)
            a('ssl_min_protocol = TLSv1.2')
        else:
            a('ssl = no')
        imaps_listener = ''
        if self.imaps:
            imaps_listener = ('  inet_listener imaps {\n    address = 127.0.0.1\n'
                              '    port = %d\n    ssl = yes\n  }\n' % self.imaps_port)
        else:
            imaps_listener = '  inet_listener imaps {\n    port = 0\n  }\n'
        a('service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n'
          '    port = %d\n  }\n%s  process_limit = 200\n}' % (self.port, imaps_listener))
        a('service imap {\n  process_limit = 400\n}')
        a('protocol imap {\n  mail_max_userip_connections = 100\n'
          '  mail_plugins = $mail_plugins%s\n}' %
          (' imap_quota' if self.max_mail_size else ''))
        a('passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %s\n'
          '  master = yes\n  pass = yes\n}' % os.path.join(self.dir, 'masters.passwd'))
        a('passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %s\n}'
          % os.path.join(self.dir, 'users.passwd'))
        a('userdb {\n  driver = static\n  args = uid=%d gid=%d home=%s/%%u allow_all_users=yes\n}'
          % (uid, gid, os.path.join(self.dir, 'home')))
        ns = ['namespace inbox {', '  inbox = yes', '  prefix = %s' % self.prefix,
              '  separator = %s' % self.separator]
        for folder, use in self.special.items():
            ns.append('  mailbox %s {\n    special_use = %s\n    auto = subscribe\n  }'
                      % (_q(folder), use))
        ns.append('}')
        lines.extend(ns)
        plugin = []
        if self.listescape:
            plugin.append('  listescape_char = "\\\\"')
        if self.max_mail_size:
            plugin.append('  quota = count:User quota')
            plugin.append('  quota_vsizes = yes')
            plugin.append('  quota_max_mail_size = %d' % self.max_mail_size)
        if plugin:
            a('plugin {\n%s\n}' % '\n'.join(plugin))
        if self.extra_conf:
            a(self.extra_conf)
        return '\n'.join(lines) + '\n'

    # ---------------------------------------------------------------- lifecycle
    def start(self, timeout=15):
        if not have_dovecot():
            raise DovecotError('%s not found' % DOVECOT_BIN)
        self.mail_uid, self.mail_gid, self.mail_user = _ensure_mail_user()
        parent = '/dev/shm' if self.tmpfs and os.path.isdir('/dev/shm') else None
        self.dir = tempfile.mkdtemp(prefix='mftest-dovecot-%s-' % self.name, dir=parent)
        os.chmod(self.dir, 0o755)
        for d in ('run', 'state'):
            os.mkdir(os.path.join(self.dir, d), 0o755)
        home = os.path.join(self.dir, 'home')
        os.mkdir(home, 0o755)
        if os.geteuid() == 0:
            os.chown(home, self.mail_uid, self.mail_gid)
        if self.imaps:
            self.cert, self.key = make_cert(self.dir)
        self._write_users()
        last_err = None
        for attempt in range(5):
            self.port = free_port()
            self.imaps_port = free_port() if self.imaps else None
            with open(self.conf_path, 'w') as f:
                f.write(self._config())
            t0 = time.monotonic()
            self._stderr = open(os.path.join(self.dir, 'dovecot.stderr'), 'wb')
            self.proc = subprocess.Popen(self._argv(),
                                         stdin=subprocess.DEVNULL, stdout=self._stderr,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            _live.add(self)
            try:
                self._wait_ready(timeout)
                self.startup_seconds = time.monotonic() - t0
                return self
            except DovecotError as e:
                last_err = e
                self._kill()
                if 'Address already in use' not in self.log_tail():
                    break
        self.print_log_tail()
        self.stop()
        raise last_err

    def _argv(self):
        argv = [DOVECOT_BIN, '-F', '-c', self.conf_path]
        if SETPRIV:
            argv = [SETPRIV, '--pdeathsig', 'TERM', '--'] + argv
        return argv

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        ports = [self.port] + ([self.imaps_port] if self.imaps else [])
        pending = list(ports)
        while pending:
            if self.proc.poll() is not None:
                raise DovecotError('dovecot %s exited with code %s' % (self.name, self.proc.returncode))
            if time.monotonic() > deadline:
                raise DovecotError('dovecot %s did not open port(s) %s' % (self.name, pending))
            p = pending[0]
            try:
                s = socket.create_connection((self.host, p), timeout=2)
                if p == self.port:
                    s.settimeout(5)
                    greet = s.recv(200)
                    if not greet.startswith(b'* OK'):
                        raise DovecotError('bad greeting %r' % greet)
                s.close()
                pending.pop(0)
            except (ConnectionRefusedError, socket.timeout):
                time.sleep(0.005)

    def _kill(self):
        """Ends the master and every process of its group at once (SIGKILL: a
        graceful SIGTERM shutdown takes Dovecot about a second)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        try:
            self._stderr.close()
        except Exception:
            pass

    def stop(self):
        _live.discard(self)
        self._kill()
        if self.dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def restart(self):
        """Stops and restarts the master on the same ports and mail (config regenerated)."""
        self._kill()
        with open(self.conf_path, 'w') as f:
            f.write(self._config())
        self._stderr = open(os.path.join(self.dir, 'dovecot.stderr'), 'ab')
        self.proc = subprocess.Popen(self._argv(),
                                     stdin=subprocess.DEVNULL, stdout=self._stderr,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(15)

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and exc_type is not KeyboardInterrupt:
            self.print_log_tail()
        self.stop()
        return False

    # ---------------------------------------------------------------- helpers
    def log_tail(self, n=40):
        out = []
        for p in (os.path.join(self.dir or '', 'dovecot.stderr'), self.log_path if self.dir else ''):
            try:
                with open(p, 'rb') as f:
                    data = f.read()
                out.extend(data.decode('utf-8', 'replace').splitlines()[-n:])
            except OSError:
                pass
        return '\n'.join(out)

    def print_log_tail(self, n=40, file=None):
        file = file or sys.stderr
        print('---- dovecot %s log tail (%s) ----' % (self.name, self.dir), file=file)
        print(self.log_tail(n), file=file)
        print('---- end of dovecot %s log ----' % self.name, file=file)

    def chown_mail(self, path):
        """Gives files written directly into a maildir to the mail user."""
        if os.geteuid() != 0:
            return
        for dirpath, dirnames, filenames in os.walk(path):
            os.chown(dirpath, self.mail_uid, self.mail_gid)
            for fn in filenames:
                os.lchown(os.path.join(dirpath, fn), self.mail_uid, self.mail_gid)

    def connect(self, user=None, how='plain', tls=False, timeout=60):
        """imaplib connection logged in.

        user None: log in as the admin itself.  how: 'plain' (SASL PLAIN with
        authzid=user, authcid=admin), 'login' (LOGIN user*admin), 'user' (the
        user's own password)."""
        from . import imapcheck
        return imapcheck.connect(self, user, how=how, tls=tls, timeout=timeout)

    def doveadm(self, *args, check=True):
        """Runs doveadm against this instance's config."""
        return subprocess.run(['doveadm', '-c', self.conf_path] + list(args), check=check,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)

    def describe(self):
        return ('dovecot %s on %s:%s%s layout=%s sep=%r max_mail_size=%s dir=%s' %
                (self.name, self.host, self.port,
                 ' imaps:%s' % self.imaps_port if self.imaps else '', self.layout,
                 self.separator, self.max_mail_size, self.dir))
