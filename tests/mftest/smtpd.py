"""A real SMTP server for tests: Debian's aiosmtpd (python3-aiosmtpd) run by
the system's python3 as its own process on 127.0.0.1, storing what it
receives in a Maildir (see smtp_handler.py).

    with smtpd.Smtpd() as s:
        ... s.url ... s.messages() -> [email.message.Message]
"""

import email
import email.policy
import mailbox
import os
import shutil
import socket
import subprocess
import tempfile
import time

from . import report
from .dovecot import free_port  # noqa: F401  (also for the tests)

SYSTEM_PYTHON = '/usr/bin/python3'


def available():
    """True when the system python3 has aiosmtpd."""
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    r = subprocess.run([SYSTEM_PYTHON, '-c', 'import aiosmtpd'], capture_output=True)
    return r.returncode == 0


def require():
    """Skips (77) when aiosmtpd is missing (a failure instead when
    MFTEST_REQUIRE_DOVECOT=1, as in CI, where every server must be there)."""
    report.need(available(), 'python3-aiosmtpd', 'apt-get install python3-aiosmtpd')


def configure(c, mf, server, *more):
    """Points mf's notifications at server (smtp_url, smtp_from, the
    source tree's templates), with more (key, value) settings; each
    `config set` is a check."""
    templates = os.path.join(os.environ.get('MF_SRCDIR', '.'), 'data', 'templates')
    for key, value in (('smtp_url', server.url), ('smtp_from', 'ferry@example.org'),
                       ('templates_dir', templates)) + more:
        r = mf.run('config', 'set', key, value)
        c.check(r.rc == 0, 'config set %s' % key, r)




class Smtpd:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='mftest-smtpd-')
        self.maildir = os.path.join(self.dir, 'Maildir')
        self.port = free_port()
        self.url = 'smtp://127.0.0.1:%d' % self.port
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env['PYTHONPATH'] = os.path.dirname(os.path.abspath(__file__))
        env.pop('PYTHONHOME', None)
        self.log = open(os.path.join(self.dir, 'smtpd.log'), 'w')
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, '-m', 'aiosmtpd', '-n', '-l', '127.0.0.1:%d' % self.port,
             '-c', 'smtp_handler.Store', self.maildir],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.log.close()
        with open(os.path.join(self.dir, 'smtpd.log')) as f:
            why = f.read()
        self.stop()
        raise RuntimeError('aiosmtpd did not start: %s' % why)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc and not self.log.closed:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    def messages(self):
        """Every message received so far, oldest first, parsed."""
        if not os.path.isdir(self.maildir):
            return []
        box = mailbox.Maildir(self.maildir, create=False)
        out = []
        for key in box.keys():
            with box.get_file(key) as f:
                out.append(email.message_from_binary_file(f, policy=email.policy.default))
        out.sort(key=lambda m: email.utils.parsedate_to_datetime(m['Date']) if m['Date'] else 0)
        return out

    def wait(self, count, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msgs = self.messages()
            if len(msgs) >= count:
                return msgs
            time.sleep(0.2)
        return self.messages()
