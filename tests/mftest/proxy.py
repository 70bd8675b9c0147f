"""TCP proxy on 127.0.0.1 with added latency and fault injection.

In-process:
    p = Proxy(('127.0.0.1', dst.port), delay_ms=10,
              faults=[Fault(pattern=b'APPEND', count=3, extra_bytes=2000, times=3)])
    p.start(); ... p.port ...; p.stop()       # or: with Proxy(...) as p:

As a script (prints the listening port on stdout, runs until SIGINT/SIGTERM):
    python3 -m mftest.proxy --listen 0 --target 127.0.0.1:PORT --delay-ms 10 \
        [--drop-conn N] [--drop-after-bytes K] [--drop-pattern APPEND --drop-count K]
        [--drop-extra-bytes B] [--drop-times T]

delay_ms is added to every chunk of data in EACH direction (so delay_ms=10 gives
about 20 ms of extra round-trip time); data is delayed, not just the connection,
and throughput is kept (chunks are queued with a due time, not slept on).

A Fault drops a connection (RST to both sides: SO_LINGER 0 then close):
    conn         1-based connection number it applies to (accept order), or None
                 for any connection (until it has fired `times` times)
    after_bytes  drop once this many client->server bytes have been forwarded
                 (exactly this many are forwarded)
    pattern      drop when this byte string has been seen `count` times in the
                 client->server stream of the connection, after forwarding
                 extra_bytes more bytes (or, if the client sends nothing more
                 within drop_wait seconds, right then)
    times        how many connections this fault may drop

Single-threaded (selectors) so that an abrupt close never races a blocked recv.
"""

import argparse
import collections
import heapq
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time

MAX_QUEUED = 4 << 20     # bytes queued per direction before we stop reading


class Fault:
    def __init__(self, conn=None, after_bytes=None, pattern=None, count=1, extra_bytes=0,
                 times=1, drop_wait=0.3):
        if after_bytes is None and pattern is None:
            raise ValueError('a Fault needs after_bytes or pattern')
        self.conn = conn
        self.after_bytes = after_bytes
        self.pattern = pattern.encode() if isinstance(pattern, str) else pattern
        self.count = count
        self.extra_bytes = extra_bytes
        self.times = times
        self.fired = 0
        self.drop_wait = drop_wait

    def applies(self, n):
        if self.fired >= self.times:
            return False
        return self.conn is None or self.conn == n or (
            self.times > 1 and self.conn is not None and n >= self.conn)

    def __repr__(self):
        return ('Fault(conn=%r, after_bytes=%r, pattern=%r, count=%r, extra=%r, times=%r, '
                'fired=%d)' % (self.conn, self.after_bytes, self.pattern, self.count,
                               self.extra_bytes, self.times, self.fired))


class _Side:
    """One socket with the queue of data due to be written to it."""
    __slots__ = ('sock', 'queue', 'queued', 'eof_in', 'eof_out_sent', 'blocked', 'events')

    def __init__(self, sock):
        self.sock = sock
        self.queue = collections.deque()   # (due, bytes or None for EOF)
        self.queued = 0
        self.eof_in = False          # we read EOF from this socket
        self.eof_out_sent = False    # we shut down writing to this socket
        self.blocked = False         # last send would block
        self.events = 0


class _Conn:
    def __init__(self, n, client, server):
        self.n = n
        self.c = _Side(client)
        self.s = _Side(server)
        self.c2s = 0                 # client->server bytes forwarded (queued)
        self.s2c = 0
        self.faults = []             # [(fault, state dict)]
        self.drop_at = None          # c2s byte count at which to drop
        self.drop_deadline = None
        self.drop_fault = None
        self.closed = False
        self.tail = b''


class Proxy:
    def __init__(self, target, listen_port=0, delay_ms=0, faults=None, host='127.0.0.1',
                 log=None):
        if isinstance(target, str):
            h, p = target.rsplit(':', 1)
            target = (h, int(p))
        self.target = target
        self.host = host
        self.listen_port = listen_port
        self.delay = delay_ms / 1000.0
        self.faults = list(faults or [])
        self.log = log
        self.port = None
        self.conns = []
        self.nconn = 0
        self.drops = []              # (conn number, reason)
        self.bytes_c2s = 0
        self.bytes_s2c = 0
        self._lock = threading.Lock()
        self._thread = None
        self._stop = False
        self._sel = None

    # ----------------------------------------------------------- public
    def start(self):
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind((self.host, self.listen_port))
        self._lsock.listen(128)
        self._lsock.setblocking(False)
        self.port = self._lsock.getsockname()[1]
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._lsock, selectors.EVENT_READ, ('listen', None))
        self._sel.register(self._wake_r, selectors.EVENT_READ, ('wake', None))
        self._thread = threading.Thread(target=self._loop, name='mftest-proxy', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is None:
            return
        self._stop = True
        try:
            os.write(self._wake_w, b'x')
        except OSError:
            pass
        self._thread.join(10)
        self._thread = None
        for c in list(self.conns):
            self._close(c, rst=False)
        self._sel.close()
        self._lsock.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def add_fault(self, fault):
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self):
        with self._lock:
            self.faults = []

    def drop_all(self):
        """Drops (RST) every open connection now (thread-safe)."""
        with self._lock:
            self._drop_all_pending = True
        os.write(self._wake_w, b'x')

    @property
    def url(self):
        return 'imap://%s:%d' % (self.host, self.port)

    def stats(self):
        return {'connections': self.nconn, 'drops': len(self.drops),
                'bytes_c2s': self.bytes_c2s, 'bytes_s2c': self.bytes_s2c}

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()
        return False

    # ----------------------------------------------------------- loop
    _drop_all_pending = False

    def _say(self, msg):
        if self.log:
            print('proxy: ' + msg, file=self.log, flush=True)

    def _loop(self):
        while not self._stop:
            now = time.monotonic()
            timeout = 0.5
            for c in list(self.conns):
                if c.closed:
                    continue
                if c.drop_deadline is not None and now >= c.drop_deadline:
                    self._drop(c, 'pattern seen, no more data')
                    continue
                for side in (c.c, c.s):
                    self._flush(c, side, now)
                if c.closed:
                    continue
                for side in (c.c, c.s):
                    if side.queue and not side.blocked:
                        due = side.queue[0][0]
                        if due > now:
                            timeout = min(timeout, due - now)
                if c.drop_deadline is not None:
                    timeout = min(timeout, max(0, c.drop_deadline - now))
                self._update_interest(c)
            if self._drop_all_pending:
                with self._lock:
                    self._drop_all_pending = False
                for c in list(self.conns):
                    self._drop(c, 'drop_all')
            try:
                events = self._sel.select(max(0.0, timeout))
            except OSError:
                continue
            for key, mask in events:
                kind, c = key.data
                if kind == 'listen':
                    self._accept()
                elif kind == 'wake':
                    try:
                        os.read(self._wake_r, 4096)
                    except OSError:
                        pass
                else:
                    if c.closed:
                        continue
                    side = c.c if kind == 'c' else c.s
                    other = c.s if kind == 'c' else c.c
                    if mask & selectors.EVENT_WRITE:
                        side.blocked = False
                    if mask & selectors.EVENT_READ:
                        self._read(c, side, other, kind == 'c')

    def _accept(self):
        while True:
            try:
                cs, addr = self._lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.nconn += 1
            n = self.nconn
            try:
                ss = socket.create_connection(self.target, timeout=5)
            except OSError as e:
                self._say('conn %d: cannot reach %s: %s' % (n, self.target, e))
                self._rst(cs)
                continue
            for s in (cs, ss):
                s.setblocking(False)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = _Conn(n, cs, ss)
            with self._lock:
                c.faults = [f for f in self.faults if f.applies(n)]
            self.conns.append(c)
            self._sel.register(cs, selectors.EVENT_READ, ('c', c))
            self._sel.register(ss, selectors.EVENT_READ, ('s', c))
            c.c.events = c.s.events = selectors.EVENT_READ
            self._say('conn %d accepted' % n)

    def _read(self, c, side, other, from_client):
        try:
            data = side.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._drop(c, 'read error %s' % e, count=False)
            return
        now = time.monotonic()
        if not data:
            side.eof_in = True
            other.queue.append((now + self.delay, None))
            return
        if from_client:
            data = self._check_faults(c, data)
            if data is None:
                return
            c.c2s += len(data)
            self.bytes_c2s += len(data)
        else:
            c.s2c += len(data)
            self.bytes_s2c += len(data)
        if data:
            other.queue.append((now + self.delay, data))
            other.queued += len(data)
        if c.drop_at is not None and c.c2s >= c.drop_at:
            # forward what is due up to the drop point, then drop
            self._flush(c, c.s, now + self.delay + 1, force=True)
            self._drop(c, 'fault %r' % c.drop_fault)

    def _check_faults(self, c, data):
        """Returns the part of data to forward (may truncate and arm a drop)."""
        if c.drop_at is not None:
            room = c.drop_at - c.c2s
            return data[:max(0, room)]
        with self._lock:
            for f in c.faults:
                if f.fired >= f.times:
                    continue
                if f.after_bytes is not None:
                    if c.c2s + len(data) >= f.after_bytes:
                        f.fired += 1
                        c.drop_at = f.after_bytes
                        c.drop_fault = f
                        return data[:max(0, f.after_bytes - c.c2s)]
                if f.pattern is not None:
                    st = c.__dict__.setdefault('_seen', {})
                    buf = c.tail + data
                    seen = st.get(id(f), 0)
                    pos = 0
                    while True:
                        k = buf.find(f.pattern, pos)
                        if k < 0:
                            break
                        seen += 1
                        pos = k + 1
                        if seen >= f.count:
                            f.fired += 1
                            end_in_data = k + len(f.pattern) - len(c.tail)
                            c.drop_at = c.c2s + max(0, end_in_data) + f.extra_bytes
                            c.drop_fault = f
                            c.drop_deadline = time.monotonic() + self.delay + f.drop_wait
                            st[id(f)] = seen
                            c.tail = b''
                            return data[:max(0, c.drop_at - c.c2s)]
                    st[id(f)] = seen
            plen = max((len(f.pattern) for f in c.faults if f.pattern), default=1)
            c.tail = (c.tail + data)[-(plen - 1):] if plen > 1 else b''
        return data

    def _flush(self, c, side, now, force=False):
        if c.closed:
            return
        while side.queue and not side.blocked:
            due, data = side.queue[0]
            if due > now and not force:
                return
            if data is None:
                side.queue.popleft()
                try:
                    side.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                side.eof_out_sent = True
                if c.c.eof_in and c.s.eof_in and c.c.eof_out_sent and c.s.eof_out_sent:
                    self._close(c, rst=False)
                return
            try:
                n = side.sock.send(data)
            except (BlockingIOError, InterruptedError):
                side.blocked = True
                return
            except OSError as e:
                self._drop(c, 'write error %s' % e, count=False)
                return
            side.queued -= n
            if n < len(data):
                side.queue[0] = (due, data[n:])
                side.blocked = True
                return
            side.queue.popleft()

    def _update_interest(self, c):
        for side, other, kind in ((c.c, c.s, 'c'), (c.s, c.c, 's')):
            ev = 0
            if not side.eof_in and other.queued < MAX_QUEUED:
                ev |= selectors.EVENT_READ
            if side.blocked:
                ev |= selectors.EVENT_WRITE
            if ev != side.events:
                try:
                    if side.events and ev:
                        self._sel.modify(side.sock, ev, (kind, c))
                    elif ev:
                        self._sel.register(side.sock, ev, (kind, c))
                    else:
                        self._sel.unregister(side.sock)
                except (KeyError, ValueError, OSError):
                    pass
                side.events = ev

    @staticmethod
    def _rst(sock):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        except OSError:
            pass
        try:
            sock.close()
        except OSError:
            pass

    def _drop(self, c, reason, count=True):
        if c.closed:
            return
        if count:
            self.drops.append((c.n, reason))
            self._say('conn %d dropped: %s (c2s %d bytes)' % (c.n, reason, c.c2s))
        self._close(c, rst=True)

    def _close(self, c, rst):
        if c.closed:
            return
        c.closed = True
        for side in (c.c, c.s):
            if side.events:
                try:
                    self._sel.unregister(side.sock)
                except (KeyError, ValueError, OSError):
                    pass
            if rst:
                self._rst(side.sock)
            else:
                try:
                    side.sock.close()
                except OSError:
                    pass
        try:
            self.conns.remove(c)
        except ValueError:
            pass



class Via:
    """A server seen through a proxy: what endpoint_add and imapcheck need
    (host, port, url, admin credentials, users) with the proxy's port."""

    def __init__(self, server, p):
        self.host = '127.0.0.1'
        self.port = p.port
        self.url = 'imap://127.0.0.1:%d' % p.port
        self.admin = server.admin
        self.admin_password = server.admin_password
        self.users = server.users


def main(argv=None):
    ap = argparse.ArgumentParser(prog='python3 -m mftest.proxy', description=__doc__.split('\n')[0])
    ap.add_argument('--listen', type=int, default=0, help='port to listen on (0: any free port)')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--target', required=True, help='HOST:PORT')
    ap.add_argument('--delay-ms', type=float, default=0, help='added delay per direction')
    ap.add_argument('--drop-conn', type=int, default=None)
    ap.add_argument('--drop-after-bytes', type=int, default=None)
    ap.add_argument('--drop-pattern', default=None)
    ap.add_argument('--drop-count', type=int, default=1)
    ap.add_argument('--drop-extra-bytes', type=int, default=0)
    ap.add_argument('--drop-times', type=int, default=1)
    ap.add_argument('--verbose', action='store_true')
    a = ap.parse_args(argv)
    faults = []
    if a.drop_after_bytes is not None or a.drop_pattern:
        faults.append(Fault(conn=a.drop_conn, after_bytes=a.drop_after_bytes,
                            pattern=a.drop_pattern.encode() if a.drop_pattern else None,
                            count=a.drop_count, extra_bytes=a.drop_extra_bytes,
                            times=a.drop_times))
    p = Proxy(a.target, listen_port=a.listen, delay_ms=a.delay_ms, faults=faults,
              host=a.host, log=sys.stderr if a.verbose else None)
    p.start()
    print(p.port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *x: done.set())
    signal.signal(signal.SIGINT, lambda *x: done.set())
    while not done.wait(0.5):
        pass
    p.stop()
    if a.verbose:
        print('proxy stats: %r' % p.stats(), file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
