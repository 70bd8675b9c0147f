"""A throw-away DNS server for the tests: Debian's dnsmasq on 127.0.0.1 and a
free high port, answering only from its command line (no /etc/resolv.conf,
no /etc/hosts, no configuration file, no upstream).

    with Dnsmasq(srv=[('_imaps._tcp.corp.test', 'mail1.corp.test', 993, 10, 60)],
                 hosts=[('mail1.corp.test', '127.0.0.1')], local=['corp.test']) as dns:
        dns.server        # "127.0.0.1:PORT", the dns_server setting

srv rows are (name, target, port, priority, weight); local domains are
answered here (NXDOMAIN for unknown names) instead of REFUSED.
"""

import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time

DNSMASQ_BIN = shutil.which('dnsmasq') or '/usr/sbin/dnsmasq'


def have_dnsmasq():
    return os.access(DNSMASQ_BIN, os.X_OK)


def free_udp_port(host='127.0.0.1'):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _query(port, name, qtype=1, timeout=0.3):
    """Sends one query; returns the answer's RCODE, or None without an answer."""
    qid = random.randint(0, 0xffff)
    q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    for label in name.split('.'):
        q += bytes([len(label)]) + label.encode()
    q += b'\0' + struct.pack('>HH', qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, ('127.0.0.1', port))
        data, _ = s.recvfrom(4096)
        return data[3] & 0x0f if len(data) >= 12 and data[:2] == q[:2] else None
    except OSError:
        return None
    finally:
        s.close()


class DnsmasqError(Exception):
    pass


class Dnsmasq:
    def __init__(self, srv=(), hosts=(), local=()):
        self.srv = list(srv)
        self.hosts = list(hosts)
        self.local = list(local)
        self.port = None
        self.proc = None
        self.dir = None

    @property
    def server(self):
        return '127.0.0.1:%d' % self.port

    def argv(self):
        a = [DNSMASQ_BIN, '--keep-in-foreground', '--no-resolv', '--no-hosts',
             '--conf-file=/dev/null',
             '--listen-address=127.0.0.1', '--bind-interfaces', '--port=%d' % self.port,
             '--pid-file=', '--log-queries', '--log-facility=%s' % self.log_path]
        if os.geteuid() == 0:
            a.append('--user=root')        # no privilege drop: it may read nothing anyway
        for d in self.local:
            a.append('--local=/%s/' % d)
        for name, target, port, prio, weight in self.srv:
            a.append('--srv-host=%s,%s,%d,%d,%d' % (name, target, port, prio, weight))
        for name, addr in self.hosts:
            a.append('--host-record=%s,%s' % (name, addr))
        return a

    @property
    def log_path(self):
        return os.path.join(self.dir, 'dnsmasq.log')

    def start(self, timeout=10):
        if not have_dnsmasq():
            raise DnsmasqError('%s not found' % DNSMASQ_BIN)
        self.dir = tempfile.mkdtemp(prefix='mftest-dnsmasq-')
        for attempt in range(5):
            self.port = free_udp_port()
            err = open(os.path.join(self.dir, 'stderr'), 'wb')
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=err,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            err.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if _query(self.port, 'ready.probe.invalid') is not None:
                    return self
                time.sleep(0.05)
            self._kill()
        raise DnsmasqError('dnsmasq did not start: %s' % self.stderr_text())

    def stderr_text(self):
        try:
            with open(os.path.join(self.dir, 'stderr'), errors='replace') as f:
                return f.read()[-2000:]
        except OSError:
            return ''

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors='replace') as f:
                return ''.join(f.readlines()[-n:])
        except OSError:
            return ''

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self):
        self._kill()
        if self.dir and not os.environ.get('MFTEST_KEEP'):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()
        return False
