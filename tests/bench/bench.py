#!/usr/bin/python3
"""mailferry benchmark: mailferry against isync's mbsync, IMAP to IMAP.

    make bench                                   # full run (about 20 minutes on 2 cores)
    PYTHONPATH=tests MAILFERRY=./mailferry python3 tests/bench/bench.py --quick

Set-up
  * two throw-away Dovecot servers on 127.0.0.1 (mftest.dovecot): the source keeps
    its mail on disk, the target on tmpfs (/dev/shm), because file creation on
    the disks slows down from run to run and would blur the comparison;
  * corpus A: 20 users x 500 "realistic" messages (mostly 2-50 KB text and HTML,
    about 3 % with 0.3-3 MB attachments) spread over INBOX, Sent Items, Archive
    and three ordinary folders; corpus B: one user with 20 000 small messages
    (0.6-6 KB) in INBOX.  The source is filled once, with pipelined MULTIAPPEND
    (LITERAL+), and the time it takes is reported;
  * before every run the target is stopped, its mail directory removed and a
    new one started; every run gets a fresh mailferry store / mbsync state.

Tools
  * corpus A: `mailferry queue SRC DST user001 ... user020` (untimed), then
    `mailferry run --workers N` (timed); mbsync with one channel per user, N
    mbsync processes at a time (the same parallelism as mailferry's workers);
  * corpus B: `mailferry migrate SRC DST bigbox`, one mbsync process;
  * mbsync: `Sync Pull`, `Create Near`, `CopyArrivalDate yes`, `Expunge None`,
    `Remove None`, default PipelineDepth (unlimited), Patterns = the source's
    selectable folders; master-user LOGIN "user*admin" on both sides.

Each scenario (corpus x network) runs warm-up run(s) of both tools (loopback
only; not counted), then alternates mailferry and mbsync, --runs times each
(fewer when the next pair would end after --budget seconds).  Reported:
messages/s and MB/s (source messages and bytes / wall time of the timed
command), medians, the ratio mailferry/mbsync, and CPU seconds of the tool,
the source Dovecot and the target Dovecot (which shows who is the bottleneck).

Peak RSS is GNU time's %M (/usr/bin/time) of each tool process.  NOT the
ru_maxrss that os.wait4 reports for our own child: on Linux, exec keeps the
high-water RSS of the forking process's image, so every child of this Python
process would "peak" at the benchmark's own RSS (60-200 MB).  Without
/usr/bin/time the highest VmHWM sampled every 20 ms is used (a lower bound).
For parallel mbsync the report also gives the peak of the summed RSS of its
concurrent processes (sampled from /proc).

After every run the target is counted (LIST + STATUS per folder) against the
source, with the folder mapping of each tool (mailferry maps special-use
folders onto the target's, mbsync keeps names); a mismatch marks the run
WRONG.  After the first timed mailferry run of each corpus one mailbox is
compared deeply (bytes, flags, INTERNALDATE; mftest.imapcheck.compare), and
mailferry's warning/error events are listed.

Then a proxy check (per tool, a direct run and one through a 0 ms
pass-through proxy, back to back; the proxy's CPU time; an IMAP NOOP round
trip through the delay proxy as calibration), and the same scenarios at
--rtt-ms of round-trip time added by a delay proxy (mftest.proxy, run as its
own process: per-direction queue of timestamped chunks, so the delay does not
cost throughput) in front of the target (or --rtt-side source/both).
mailferry's peak RSS with 20 mailboxes in parallel (`run --workers 20`,
endpoints with --max-connections 64: the default of 10 connections per
endpoint would let only 10 jobs run at once) is measured on loopback.

Shared machines: before each run the benchmark waits (up to --quiet-wait s)
until other processes use less than 0.15 cores, and it measures the CPU used
by processes that are not its own during each run ("Other load"); runs above
0.25 cores are flagged in the report.

The results are printed as markdown and written to tests/bench/last-results.md
(full runs; --quick writes nothing unless --output is given).  Exit status: 0,
1 when a mailferry run failed or copied a wrong number of messages, 77 when
something needed (mailferry binary, dovecot, mbsync) is missing.
"""

import argparse
import collections
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from mftest import cli, corpus, imapcheck, mbsync            # noqa: E402
from mftest.dovecot import (Dovecot, SOURCE_SPECIAL, TARGET_SPECIAL,  # noqa: E402
                            have_dovecot)

NOISY = 0.25     # cores used by other processes during a run that make it suspect
QUIET = 0.15     # ... and below which the machine counts as quiet before a run

# Corpus A: folder (relative to the source separator) and weight.  "Sent Items"
# and "Archive" are special-use on the source (\Sent, \Archive); the target has
# "Sent" and "Archives" instead, which mailferry maps onto and mbsync does not.
A_FOLDERS = [('INBOX', 45), ('Sent Items', 20), ('Archive', 10), ('Projects/alpha', 10),
             ('Projects/beta', 5), ('Newsletters', 10)]


def log(msg=''):
    print(msg, flush=True)


def fmt_cmd(argv):
    return ' '.join(shlex.quote(str(a)) for a in argv)


# ---------------------------------------------------------------- machine


def machine_info():
    info = collections.OrderedDict()
    info['nproc'] = str(os.cpu_count())
    model = '?'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.lower().startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info['CPU'] = model
    info['kernel'] = platform.release()
    try:
        with open('/proc/meminfo') as f:
            kb = int(f.readline().split()[1])
        info['RAM'] = '%.1f GiB' % (kb / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    info['python'] = platform.python_version()
    for key, argv in (('dovecot', ['dovecot', '--version']),
                      ('mbsync', [mbsync.MBSYNC, '--version'])):
        try:
            out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 timeout=10).stdout.decode('utf-8', 'replace').strip()
            info[key] = out.splitlines()[0] if out else '?'
        except (OSError, subprocess.SubprocessError):
            info[key] = '?'
    return info


def mailferry_version(binary):
    try:
        out = subprocess.run([binary, '--version'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=10).stdout.decode()
        ver = out.split('(')[0].strip()
    except (OSError, subprocess.SubprocessError):
        ver = '?'
    if ver.startswith('mailferry '):
        ver = ver[len('mailferry '):]
    # the tree the binary was built in (make bench: the build dir), else MF_SRCDIR
    for src in (os.path.dirname(os.path.abspath(binary)), os.environ.get('MF_SRCDIR')):
        if not src:
            continue
        try:
            rev = subprocess.run(['git', '-C', src, 'describe', '--always', '--dirty'],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 timeout=10).stdout.decode().strip()
        except (OSError, subprocess.SubprocessError):
            rev = ''
        if rev:
            ver += ' (git %s in %s)' % (rev, src)
            break
    return ver


# ---------------------------------------------------------------- processes


TIME_BIN = '/usr/bin/time'


def have_gnu_time():
    try:
        out = subprocess.run([TIME_BIN, '--version'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=10).stdout
        return b'GNU' in out
    except (OSError, subprocess.SubprocessError):
        return False


def _proc_status(pid):
    """(comm, VmRSS kB, VmHWM kB) of a live process, or None."""
    try:
        with open('/proc/%d/status' % pid, 'rb') as f:
            data = f.read()
    except OSError:
        return None
    comm, rss, hwm = b'', 0, 0
    for line in data.split(b'\n'):
        if line.startswith(b'Name:'):
            comm = line.split(None, 1)[1].strip() if len(line.split()) > 1 else b''
        elif line.startswith(b'VmRSS:'):
            rss = int(line.split()[1])
        elif line.startswith(b'VmHWM:'):
            hwm = int(line.split()[1])
    return comm, rss, hwm


def _descendants(pid):
    out = [pid]
    i = 0
    while i < len(out):
        p = out[i]
        i += 1
        try:
            for tid in os.listdir('/proc/%d/task' % p):
                with open('/proc/%d/task/%s/children' % (p, tid)) as f:
                    out.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            pass
    return out


CLK_TCK = os.sysconf('SC_CLK_TCK')


def _busy_seconds():
    """CPU seconds the whole machine spent busy (all CPUs) since boot."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is inside user)
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / CLK_TCK


def _tree_cpu(root):
    """CPU seconds of every process that ever lived under root and was reaped
    within the tree, plus the live ones: sum of utime+stime+cutime+cstime."""
    total = 0
    for pid in _descendants(root):
        try:
            with open('/proc/%d/stat' % pid) as f:
                rest = f.read().rsplit(')', 1)[1].split()
            total += sum(int(x) for x in rest[11:15])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


class LoadMeter:
    """CPU used on the machine by processes that are not ours (the benchmark,
    the tools it waited for, its Dovecots and proxies) during a window.  Other
    people's tests running on a shared 2-core machine show up here."""

    def __init__(self, roots):
        self.roots = [r for r in roots if r]

    def _ours(self):
        t = os.times()
        per_root = [_tree_cpu(r) for r in self.roots]
        return (t.user + t.system + t.children_user + t.children_system + sum(per_root),
                per_root)

    def start(self):
        self.t0 = time.monotonic()
        self.b0 = _busy_seconds()
        self.o0, self.r0 = self._ours()
        return self

    def stop(self):
        wall = max(time.monotonic() - self.t0, 1e-3)
        busy = _busy_seconds() - self.b0
        ours, r1 = self._ours()
        ours -= self.o0
        self.root_cpu = [b - a for a, b in zip(self.r0, r1)]   # CPU s per root tree
        self.ours_cores = ours / wall
        self.foreign_cores = max(0.0, busy - ours) / wall
        return self.foreign_cores


class RssSampler:
    """Samples, every `interval` s, the processes started under the registered root
    pids (the GNU time wrapper itself is left out): peak of their summed VmRSS
    (what a set of parallel processes holds at once) and, per root, the highest
    VmHWM seen (a lower bound of the peak RSS, used when GNU time is missing)."""

    def __init__(self, interval=0.02):
        self.interval = interval
        self.roots = set()
        self.peak_sum_kb = 0
        self.hwm = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def add(self, pid):
        with self._lock:
            self.roots.add(pid)
            self.hwm.setdefault(pid, 0)

    def remove(self, pid):
        with self._lock:
            self.roots.discard(pid)

    def sample(self):
        with self._lock:
            roots = list(self.roots)
        total = 0
        for root in roots:
            for pid in _descendants(root):
                st = _proc_status(pid)
                if st is None or st[0] == b'time':
                    continue
                total += st[1]
                if st[2] > self.hwm.get(root, 0):
                    self.hwm[root] = st[2]
        if total > self.peak_sum_kb:
            self.peak_sum_kb = total

    def _loop(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *a):
        self._stop.set()
        self._thread.join()


class JobWatcher:
    """Polls a mailferry store (read-only) for the number of running jobs."""

    def __init__(self, store, interval=0.1):
        self.store = store
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        import sqlite3
        while not self._stop.wait(self.interval):
            try:
                con = sqlite3.connect('file:%s?mode=ro' % self.store, uri=True, timeout=1)
                try:
                    n = con.execute("SELECT count(*) FROM jobs WHERE state='running'").fetchone()[0]
                finally:
                    con.close()
                self.peak = max(self.peak, n)
            except Exception:
                pass

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


class Proc:
    """Result of one child process."""

    def __init__(self, argv, rc, seconds, maxrss_kb, utime, stime, out, err, timed_out):
        self.argv = argv
        self.rc = rc
        self.seconds = seconds
        self.maxrss_kb = maxrss_kb
        self.utime = utime
        self.stime = stime
        self.out = out
        self.err = err
        self.timed_out = timed_out


USE_TIME = None


def run_child(argv, env=None, cwd=None, timeout=900, sampler=None):
    """Runs argv and waits for it with os.wait4 on its own pid (never reaps other
    children).  Peak RSS: NOT ru_maxrss of that wait4, which on Linux is at least
    the high-water RSS of the forking process (exec keeps the old mm's hiwater
    in signal->maxrss, so a child of this ~70 MB Python process "peaks" at
    70 MB), but GNU time's %M (time forks from its own 1-2 MB image), or, when
    /usr/bin/time is missing, the highest VmHWM sampled from /proc."""
    global USE_TIME
    if USE_TIME is None:
        USE_TIME = have_gnu_time()
    own_sampler = sampler is None
    if own_sampler:
        sampler = RssSampler()
        sampler.__enter__()
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, \
            tempfile.NamedTemporaryFile(prefix='bench-rss-') as frss:
        full = ([TIME_BIN, '-f', '%M', '-o', frss.name] if USE_TIME else []) + list(argv)
        t0 = time.monotonic()
        p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                             env=env, cwd=cwd)
        sampler.add(p.pid)
        killed = []

        def kill():
            killed.append(1)
            for pid in reversed(_descendants(p.pid)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            while True:
                try:
                    _, status, ru = os.wait4(p.pid, 0)
                    break
                except InterruptedError:
                    continue
        finally:
            timer.cancel()
            sampler.remove(p.pid)
            if own_sampler:
                sampler.__exit__()
        seconds = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out = fo.read().decode('utf-8', 'replace')
        err = fe.read().decode('utf-8', 'replace')
        maxrss = sampler.hwm.get(p.pid, 0)
        if USE_TIME:
            txt = frss.read().decode('ascii', 'replace').strip().splitlines()
            if txt and txt[-1].strip().isdigit():
                maxrss = max(maxrss, int(txt[-1]))
            if txt and len(txt) > 1:        # "Command exited with non-zero status N"
                err += '\n' + '\n'.join(txt[:-1])
    return Proc(argv, p.returncode, seconds, maxrss, ru.ru_utime, ru.ru_stime, out, err,
                bool(killed))


# ---------------------------------------------------------------- corpus


class Corpus:
    def __init__(self, name, users, per_user, sizes, folders, seed):
        self.name = name
        self.users = users
        self.per_user = per_user
        self.sizes = sizes
        self.folders = folders          # [(folder with '/', weight)]
        self.seed = seed
        self.messages = 0
        self.bytes = 0
        self.fill_seconds = None
        self.src_counts = {}            # user -> {folder: n} (from STATUS)
        self.patterns = {}              # user -> mbsync Patterns

    def describe(self):
        return ('%d user(s) x %d messages = %d messages, %.1f MB (%s sizes)' % (
            len(self.users), self.per_user, self.messages, self.bytes / 1e6, self.sizes))


def _fill_user(src, c, idx, user):
    sep = src.separator
    rng = random.Random(c.seed * 1000 + idx)
    names = [f.replace('/', sep) for f, _ in c.folders]
    weights = [w for _, w in c.folders]
    conn = src.connect(user)
    nbytes = 0
    try:
        for f in names:
            if f.upper() != 'INBOX':
                imapcheck.create_folder(conn, f)
        pending = collections.defaultdict(list)
        npend = 0
        for item in corpus.bulk_messages(c.per_user, seed=c.seed * 1000 + idx, sizes=c.sizes):
            f = names[0] if len(names) == 1 else rng.choices(names, weights)[0]
            pending[f].append(item)
            nbytes += len(item[0])
            npend += 1
            if npend >= 2000:
                for ff, items in pending.items():
                    imapcheck.multiappend(conn, ff, items)
                pending.clear()
                npend = 0
        for ff, items in pending.items():
            imapcheck.multiappend(conn, ff, items)
    finally:
        imapcheck.logout(conn)
    return nbytes


def fill(src, c, threads=3):
    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as ex:
        sizes = list(ex.map(lambda iu: _fill_user(src, c, iu[0], iu[1]), enumerate(c.users)))
    c.fill_seconds = time.monotonic() - t0
    c.bytes = sum(sizes)
    c.src_counts = count_tree(src, c.users)
    c.messages = sum(sum(v.values()) for v in c.src_counts.values())
    expect = len(c.users) * c.per_user
    if c.messages != expect:
        raise RuntimeError('source fill: %d messages on the server, %d appended'
                           % (c.messages, expect))
    for u in c.users:
        c.patterns[u] = mbsync.source_patterns(src, u)


# ---------------------------------------------------------------- counting


def _status_messages(conn, raw_name):
    typ, data = conn.status(imapcheck.quote(raw_name).decode('ascii'), '(MESSAGES)')
    if typ != 'OK':
        raise imapcheck.IMAPError('STATUS %s: %r' % (raw_name, data))
    m = re.search(rb'MESSAGES (\d+)', b' '.join(d for d in data if isinstance(d, bytes)))
    return int(m.group(1)) if m else 0


def folder_listing(server, user):
    """[(name, attrs, messages)] of every selectable folder (LIST + STATUS)."""
    for attempt in range(3):
        try:
            conn = server.connect(user)
            break
        except Exception as e:
            log('  ! login as %s on %s failed (%s); Dovecot log tail:\n%s' % (
                user, getattr(server, 'name', '?'), e, server.log_tail(8)))
            if attempt == 2:
                raise
            time.sleep(1)
    try:
        out = []
        for name, raw, sep, attrs in imapcheck.list_folders(conn):
            low = [a.lower() for a in attrs]
            if '\\noselect' in low or '\\nonexistent' in low:
                continue
            out.append((name, attrs, _status_messages(conn, raw)))
        return out
    finally:
        imapcheck.logout(conn)


def count_tree(server, users):
    return {u: {name: n for name, _, n in folder_listing(server, u)} for u in users}


SPECIAL = ('\\sent', '\\drafts', '\\trash', '\\junk', '\\archive')


def check_counts(src, dst, c, mapping):
    """Compares target folder counts with the source.  mapping 'special': a source
    folder with a special-use attribute is expected in the target folder with the
    same attribute (mailferry); 'name': same name (mbsync).  Returns
    (copied messages on the target, [problems])."""
    problems = []
    total = 0
    src_special = {}
    for u in c.users[:1]:
        for name, attrs, n in folder_listing(src, u):
            for a in attrs:
                if a.lower() in SPECIAL:
                    src_special[name] = a.lower()
    for u in c.users:
        listing = folder_listing(dst, u)
        have = {name: n for name, _, n in listing}
        dst_special = {}
        for name, attrs, n in listing:
            for a in attrs:
                if a.lower() in SPECIAL:
                    dst_special[a.lower()] = name
        expected = collections.Counter()
        for name, n in c.src_counts[u].items():
            tname = name
            if mapping == 'special' and name in src_special and src_special[name] in dst_special:
                tname = dst_special[src_special[name]]
            expected[tname] += n
        total += sum(have.values())
        for tname in sorted(set(expected) | set(have)):
            e, h = expected.get(tname, 0), have.get(tname, 0)
            if e != h:
                problems.append('%s: target folder %r holds %d messages, expected %d'
                                % (u, tname, h, e))
    return total, problems


def deep_check(src, dst, user):
    diff, s, d = imapcheck.compare_users(src, user, dst, user)
    return diff.ok, diff.report(max_lines=20)


# ---------------------------------------------------------------- proxy


class DelayProxy:
    """mftest.proxy as a separate process (its CPU time is measured)."""

    def __init__(self, target_port, delay_ms):
        env = dict(os.environ, PYTHONPATH=TESTS + os.pathsep + os.environ.get('PYTHONPATH', ''),
                   PYTHONDONTWRITEBYTECODE='1')
        self.argv = [sys.executable, '-m', 'mftest.proxy', '--listen', '0',
                     '--target', '127.0.0.1:%d' % target_port, '--delay-ms', str(delay_ms)]
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  env=env)
        line = self.p.stdout.readline()
        if not line.strip().isdigit():
            self.p.kill()
            self.p.wait()
            raise RuntimeError('delay proxy did not start: %r' % line)
        self.port = int(line)
        self.t0 = time.monotonic()
        self.cpu = None
        self.wall = None

    def stop(self):
        if self.p is None:
            return
        self.p.send_signal(signal.SIGTERM)
        while True:
            try:
                _, status, ru = os.wait4(self.p.pid, 0)
                break
            except InterruptedError:
                continue
        self.p.returncode = os.waitstatus_to_exitcode(status)
        self.p.stdout.close()
        self.cpu = ru.ru_utime + ru.ru_stime
        self.wall = time.monotonic() - self.t0
        self.p = None


def noop_rtt(port, server, n=20):
    """Median seconds of an IMAP NOOP round trip through host:port."""
    via = types.SimpleNamespace(host='127.0.0.1', port=port, admin=server.admin,
                                admin_password=server.admin_password, users={})
    conn = imapcheck.connect(via, None)
    try:
        times = []
        for _ in range(n):
            t = time.monotonic()
            conn.noop()
            times.append(time.monotonic() - t)
        return statistics.median(times)
    finally:
        imapcheck.logout(conn)


# ---------------------------------------------------------------- runs


class Run:
    def __init__(self, corpus, net, tool, parallel, seq, warmup=False):
        self.corpus = corpus
        self.net = net
        self.tool = tool
        self.parallel = parallel
        self.seq = seq
        self.warmup = warmup
        self.seconds = None
        self.rss_kb = None          # whole tool
        self.rss_proc_kb = None     # largest single process
        self.copied = None          # messages counted on the target
        self.reported = None        # what the tool said it copied (mailferry)
        self.ok = False
        self.problems = []
        self.rc = None
        self.proxy_cpu = None
        self.note = ''
        self.foreign = None         # cores used by other people's processes meanwhile
        self.cpu = None             # CPU s of the tool (all its processes)
        self.src_cpu = None         # CPU s of the source Dovecot (all its processes)
        self.dst_cpu = None         # ... and of the target Dovecot
        self.events = None          # mailferry: warning/error events
        self.tag = ''               # 'proxy check': not part of the medians
        self.peak_jobs = None       # most jobs seen running at once (rss20 check)
        self.meter = None

    @property
    def msgs(self):
        return self.corpus.messages / self.seconds if self.seconds else 0.0

    @property
    def mbs(self):
        return self.corpus.bytes / 1e6 / self.seconds if self.seconds else 0.0


class Bench:
    def __init__(self, args, binary):
        self.a = args
        self.binary = binary
        self.src = None
        self.dst = None
        self.runs = []
        self.failures = []          # mailferry failures / wrong counts
        self.notes = []
        self.commands = collections.OrderedDict()
        self.proxy_checks = []
        self.rss20 = None
        self.deep = []
        self.t_start = time.monotonic()
        self.quiet_waited = 0.0
        self.check_runs = []        # proxy check (not in the medians)
        self.busy_starts = 0        # runs started although the machine was not quiet

    # --------------------------------------------------------- servers
    def start_servers(self, users):
        self.src = Dovecot(name='bench-src', users=users, special=SOURCE_SPECIAL).start()
        self.dst = Dovecot(name='bench-dst', users=users, special=TARGET_SPECIAL,
                           tmpfs=not self.a.target_on_disk).start()

    def reset_target(self):
        """Stop the target, remove its whole directory (mail, indexes), start a new one."""
        self.dst.stop()
        self.dst.start()

    def stop_servers(self):
        for s in (self.src, self.dst):
            if s is not None:
                try:
                    s.stop()
                except Exception:
                    pass

    def wait_quiet(self):
        """On a shared machine: waits (up to --quiet-wait s) until other processes
        used less than QUIET cores over one second, so that runs are not measured
        while somebody else's build or fuzzer holds a core."""
        if self.a.quiet_wait <= 0:
            return
        t0 = time.monotonic()
        said = False
        while True:
            m = self.meter().start()
            time.sleep(1.0)
            f = m.stop()
            if f < QUIET:
                break
            waited = time.monotonic() - t0
            if not said:
                log('  (other processes use %.2f cores: waiting up to %d s for a quieter '
                    'machine)' % (f, self.a.quiet_wait))
                said = True
            if waited >= self.a.quiet_wait:
                self.busy_starts += 1
                break
        self.quiet_waited += time.monotonic() - t0

    def meter(self, proxies=()):
        return LoadMeter([self.src.proc.pid, self.dst.proc.pid] + [p.p.pid for p in proxies])

    # --------------------------------------------------------- endpoints
    def endpoints(self, net):
        """(src host/port object, dst host/port object, [proxies]) for a network
        condition: ('direct', 0) or ('proxy', delay_ms per direction)."""
        kind, delay = net
        proxies = []
        src_ep = self._via(self.src, self.src.port)
        dst_ep = self._via(self.dst, self.dst.port)
        if kind == 'proxy':
            side = self.a.rtt_side
            if side in ('target', 'both'):
                p = DelayProxy(self.dst.port, delay)
                proxies.append(p)
                dst_ep = self._via(self.dst, p.port)
            if side in ('source', 'both'):
                p = DelayProxy(self.src.port, delay)
                proxies.append(p)
                src_ep = self._via(self.src, p.port)
        return src_ep, dst_ep, proxies

    @staticmethod
    def _via(server, port):
        return types.SimpleNamespace(host='127.0.0.1', port=port, admin=server.admin,
                                     admin_password=server.admin_password,
                                     url='imap://127.0.0.1:%d' % port)

    # --------------------------------------------------------- tools
    def run_mailferry(self, c, src_ep, dst_ep, workers, run, watch_jobs=False):
        mf = cli.Mailferry(binary=self.binary, settings={'workers': workers})
        try:
            extra = ['--max-connections', str(max(64, 2 * workers))]
            mf.endpoint_add('src', self.src, url=src_ep.url, extra=extra)
            mf.endpoint_add('dst', self.dst, url=dst_ep.url, extra=extra)
            if len(c.users) == 1 and not self.a.mf_run_single:
                args = ['migrate', 'src', 'dst', c.users[0]]
            else:
                r = mf.run('queue', 'src', 'dst', *c.users)
                if r.rc != 0:
                    raise RuntimeError('mailferry queue failed:\n%s' % r)
                args = ['run', '--workers', str(workers)]
            argv = mf.argv(args)
            key = 'mailferry ' + ' '.join(args)
            if key not in self.commands:
                self.commands[key] = (fmt_cmd(['mailferry', '-c', 'CONF', '-s', 'STORE'] + args),
                                      'after `mailferry queue src dst USER...`'
                                      if args[0] == 'run' else '')
            watcher = JobWatcher(mf.store) if watch_jobs else None
            run.meter.start()
            p = run_child(argv, env=mf.env(), cwd=mf.dir, timeout=self.a.timeout)
            run.foreign = run.meter.stop()
            if watcher:
                run.peak_jobs = watcher.stop()
            run.src_cpu, run.dst_cpu = run.meter.root_cpu[:2]
            run.seconds = p.seconds
            run.rss_kb = run.rss_proc_kb = p.maxrss_kb
            run.rc = p.rc
            run.cpu = p.utime + p.stime
            m = re.search(r'(\d+) messages, ([\d.]+) MB', p.err)
            if args[0] == 'migrate':
                m = re.search(r'(\d+) copied \(([\d.]+) MB\)', p.out)
            run.reported = int(m.group(1)) if m else None
            if p.rc != 0 or p.timed_out:
                run.problems.append('mailferry exit %s%s: %s' % (
                    p.rc, ' (killed after timeout)' if p.timed_out else '',
                    (p.err.strip() or p.out.strip())[-800:]))
            elif p.err.strip() and args[0] == 'migrate':
                run.note = 'stderr: ' + p.err.strip()[-300:]
            if run.reported is not None and run.reported != c.messages:
                run.problems.append('mailferry reported %d messages copied, source has %d'
                                    % (run.reported, c.messages))
            ev = mf.run('events', '--limit', '5000')
            bad = [l for l in ev.out.splitlines() if re.search(r'\b(WARN|ERROR)\b', l)]
            run.events = len(bad)
            if bad:
                run.note = ('%d warning/error event(s): ' % len(bad) + ' | '.join(
                    l.split(None, 2)[-1][:160] for l in bad[:3]) + ('; ' + run.note if run.note
                                                                     else ''))
            if p.rc != 0:
                run.problems.append('events:\n' + ev.out[-1500:])
        finally:
            mf.cleanup()

    def run_mbsync(self, c, src_ep, dst_ep, parallel, run):
        work = tempfile.mkdtemp(prefix='bench-mbsync-')
        try:
            jobs = []
            for u in c.users:
                d = os.path.join(work, u)
                os.mkdir(d)
                rc = mbsync.write_rc(os.path.join(d, 'mbsyncrc'), src_ep, dst_ep, u,
                                     patterns=c.patterns[u], timeout=120)
                jobs.append((u, [mbsync.MBSYNC, '-q', '-c', rc, '-a'], dict(os.environ, HOME=d)))
            key = 'mbsync %s' % c.name
            if key not in self.commands:
                self.commands[key] = ('mbsync -q -c RC -a', 'corpus %s: one RC per user, %d '
                                      'process(es) at a time' % (c.name, parallel))
            results = []
            lock = threading.Lock()
            queue = list(jobs)

            def worker(sampler):
                while True:
                    with lock:
                        if not queue:
                            return
                        u, argv, env = queue.pop(0)
                    p = run_child(argv, env=env, timeout=self.a.timeout, sampler=sampler)
                    with lock:
                        results.append((u, p))
            with RssSampler() as sampler:
                run.meter.start()
                t0 = time.monotonic()
                threads = [threading.Thread(target=worker, args=(sampler,))
                           for _ in range(min(parallel, len(jobs)))]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                run.seconds = time.monotonic() - t0
                run.foreign = run.meter.stop()
                run.src_cpu, run.dst_cpu = run.meter.root_cpu[:2]
            run.rss_kb = max(sampler.peak_sum_kb, max(p.maxrss_kb for _, p in results))
            run.rss_proc_kb = max(p.maxrss_kb for _, p in results)
            run.cpu = sum(p.utime + p.stime for _, p in results)
            bad = [(u, p) for u, p in results if p.rc != 0]
            run.rc = max((p.rc for _, p in results), key=abs) if results else None
            for u, p in bad[:3]:
                run.problems.append('mbsync %s exit %s%s: %s' % (
                    u, p.rc, ' (timeout)' if p.timed_out else '', p.err.strip()[-400:]))
            warn = set()
            for _, p in results:
                for line in p.err.splitlines():
                    if line.strip() and 'in the clear' not in line:
                        warn.add(line.strip())
            if warn:
                run.note = 'mbsync stderr: ' + ' | '.join(sorted(warn)[:3])
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def one_run(self, c, net, tool, seq, warmup=False, workers=None, tag=''):
        parallel = min(workers or self.a.workers, len(c.users))
        run = Run(c, net, tool, parallel, seq, warmup)
        run.tag = tag
        self.wait_quiet()
        self.reset_target()
        src_ep, dst_ep, proxies = self.endpoints(net)
        run.meter = self.meter(proxies)
        try:
            if tool == 'mailferry':
                self.run_mailferry(c, src_ep, dst_ep, parallel, run)
            else:
                self.run_mbsync(c, src_ep, dst_ep, parallel, run)
        finally:
            for p in proxies:
                p.stop()
            if proxies:
                run.proxy_cpu = sum(p.cpu for p in proxies) / max(run.seconds or 1, 1e-3)
        run.copied, probs = check_counts(self.src, self.dst, c,
                                         'special' if tool == 'mailferry' else 'name')
        run.problems.extend(probs[:10])
        if len(probs) > 10:
            run.problems.append('... %d more count problems' % (len(probs) - 10))
        if run.copied != c.messages:
            run.problems.append('target holds %d messages, source %d' % (run.copied, c.messages))
        run.ok = not run.problems
        if tool == 'mailferry' and not warmup and run.ok and not any(
                d[0] == c.name for d in self.deep) and not self.a.no_deep:
            user = c.users[0]
            t = time.monotonic()
            ok, rep = deep_check(self.src, self.dst, user)
            self.deep.append((c.name, user, ok, rep, time.monotonic() - t))
            if not ok:
                run.problems.append('deep comparison of %s: %s' % (user, rep))
                run.ok = False
        self.print_run(run)
        if not run.ok and tool == 'mailferry':
            self.failures.append(run)
        return run

    def print_run(self, run):
        extra = ''
        if run.tool == 'mbsync':
            extra += ' (1 proc %.1f)' % ((run.rss_proc_kb or 0) / 1024)
        extra += '  cpu %s' % _cpu3([run]).replace(' ', '')
        extra += '  ' + ('ok' if run.ok else 'WRONG')
        if run.proxy_cpu is not None:
            extra += ' proxy cpu %.0f%%' % (100 * run.proxy_cpu)
        if (run.foreign or 0) >= NOISY:
            extra += '  OTHER LOAD %.2f cores' % run.foreign
        if run.note:
            extra += '  [%s]' % run.note
        log('  %-9s %s %s %-6s %7.2f s  %8.0f msg/s  %7.1f MB/s  RSS %6.1f MiB%s' % (
            run.tool, run.corpus.name, net_label(run.net), 'warmup' if run.warmup else
            '#%d' % run.seq, run.seconds or 0, run.msgs, run.mbs, (run.rss_kb or 0) / 1024,
            extra))
        for p in run.problems:
            for line in p.splitlines()[:12]:
                log('      ! ' + line)

    # --------------------------------------------------------- scenarios
    def scenario(self, c, net, runs, warmups, budget=None, workers=None, tag=''):
        """Warm-up runs (not counted), then `runs` alternating pairs.  With a budget
        (seconds, warm-up not included), no further pair is started when the average
        pair so far would end the counted runs after the budget (at least one pair)."""
        log('scenario: corpus %s, %s%s (%s)' % (c.name, net_label(net),
                                                 ', %s' % tag if tag else '', c.describe()))
        for w in range(warmups):
            for tool in ('mailferry', 'mbsync'):
                self.runs.append(self.one_run(c, net, tool, 0, warmup=True, workers=workers,
                                              tag=tag))
        t1 = time.monotonic()
        done = 0
        for i in range(runs):
            now = time.monotonic()
            if budget and done and (now - t1) * (done + 1) / done > budget:
                self.notes.append('corpus %s, %s: %d of %d runs per tool (the scenario '
                                  'time budget of %d s, --budget, would have been exceeded)'
                                  % (c.name, net_label(net), done, runs, budget))
                log('  (time budget: stopping after %d run(s) per tool)' % done)
                break
            for tool in (('mailferry', 'mbsync') if i % 2 == 0 else ('mbsync', 'mailferry')):
                self.runs.append(self.one_run(c, net, tool, i + 1, workers=workers, tag=tag))
            done += 1

    def proxy_check(self, c):
        """Is the proxy a bottleneck?  Per tool, a direct run and a run through a
        0 ms pass-through proxy back to back (so that both see the same machine),
        and a calibration of the delay (NOOP round trip through the proxy).  These
        runs are listed but not part of the medians."""
        log('proxy check: corpus %s, direct and through a 0 ms pass-through proxy' % c.name)
        for tool in ('mailferry', 'mbsync'):
            for net in (('direct', 0), ('proxy', 0)):
                r = self.one_run(c, net, tool, 1)
                r.tag = 'proxy check'
                self.check_runs.append(r)
        d = self.a.rtt_ms / 2.0
        p = DelayProxy(self.dst.port, d)
        try:
            direct = noop_rtt(self.dst.port, self.dst)
            via = noop_rtt(p.port, self.dst)
        finally:
            p.stop()
        self.calibration = (direct, via)
        log('  NOOP round trip: direct %.2f ms, through the %g ms/direction proxy %.2f ms'
            % (direct * 1000, d, via * 1000))

    def rss20_check(self, c):
        log('peak RSS check: mailferry run --workers %d on corpus %s' % (len(c.users), c.name))
        run = Run(c, ('direct', 0), 'mailferry', len(c.users), 1)
        self.wait_quiet()
        self.reset_target()
        run.meter = self.meter()
        ep_s, ep_d = self._via(self.src, self.src.port), self._via(self.dst, self.dst.port)
        self.run_mailferry(c, ep_s, ep_d, len(c.users), run, watch_jobs=True)
        run.copied, probs = check_counts(self.src, self.dst, c, 'special')
        run.problems.extend(probs[:10])
        run.ok = not run.problems
        self.print_run(run)
        log('  jobs seen running at once: %s' % run.peak_jobs)
        if not run.ok:
            self.failures.append(run)
        self.rss20 = run


def net_label(net):
    kind, delay = net
    if kind == 'direct':
        return 'loopback'
    if delay == 0:
        return 'proxy 0 ms'
    return '%g ms RTT' % (2 * delay)


# ---------------------------------------------------------------- report


def median(xs):
    return statistics.median(xs) if xs else 0.0


def _cpu3(rs):
    def m(attr):
        v = [getattr(r, attr) for r in rs if getattr(r, attr) is not None]
        return '%.1f' % median(v) if v else '?'
    return '%s / %s / %s' % (m('cpu'), m('src_cpu'), m('dst_cpu'))


def _tool_label(r):
    return r.tool + (' ×%d' % r.parallel if r.parallel > 1 else '')


def build_report(b, corpora, info, mf_ver, args, total_seconds):
    L = []
    a = L.append
    counted = [r for r in b.runs if not r.warmup]
    a('## Benchmark: mailferry vs mbsync (IMAP to IMAP)')
    a('')
    a('Machine: %s CPU(s), %s, kernel %s, %s RAM.' % (info['nproc'], info['CPU'],
                                                     info['kernel'], info.get('RAM', '?')))
    a('Software: mailferry %s; %s; Dovecot %s; Python %s.' % (mf_ver, info['mbsync'],
                                                              info['dovecot'], info['python']))
    a('Date: %s; mode: %s; total benchmark time %.0f s.' % (
        time.strftime('%Y-%m-%d %H:%M %Z'), 'quick' if args.quick else 'full', total_seconds))
    a('')
    a('Set-up: two local Dovecot servers (source on disk, target on %s, stopped, wiped and '
      'started again before every run); fresh mailferry store / mbsync state per run.  '
      'Corpora:' % ('disk' if args.target_on_disk else 'tmpfs'))
    for c in corpora:
        if c.fill_seconds is None:
            continue
        a('- **%s**: %s; source filled in %.1f s (pipelined MULTIAPPEND, %.0f msg/s, %.0f MB/s).'
          % (c.name, c.describe(), c.fill_seconds, c.messages / max(c.fill_seconds, 1e-3),
             c.bytes / 1e6 / max(c.fill_seconds, 1e-3)))
    w = args.workers
    a('')
    a('Parallelism: corpus A: `mailferry run --workers %d`, mbsync %d processes at a time '
      '(one channel per user); corpus B: `mailferry migrate`, one mbsync process.  '
      'mbsync: `Sync Pull`, `CopyArrivalDate yes`, default (unlimited) PipelineDepth.  '
      'Runs: %d warm-up run(s) per tool on loopback (not counted), then up to %d '
      'alternating run(s) per tool (scenario budget %d s); medians shown.  Latency: delay '
      'proxy (mftest.proxy in its own process; timestamped queue per direction) in front of '
      '%s, %g ms per direction.  msg/s and MB/s: source messages and bytes / wall time '
      'of the timed command.' % (w, w, args.warmup, args.runs, args.budget,
                                 {'target': 'the target', 'source': 'the source',
                                  'both': 'each server'}[args.rtt_side], args.rtt_ms / 2.0))
    a('Peak RSS: %s; for parallel mbsync the peak of the summed RSS of its concurrent '
      'processes (sampled every 20 ms) and, in brackets, the largest single process.' % (
          'GNU time `%M` of each process' if USE_TIME else
          'highest VmHWM sampled every 20 ms (/usr/bin/time missing: a lower bound)'))
    a('')
    a('| Corpus | Network | Tool | Runs | msg/s | MB/s | Peak RSS (MiB) | CPU s: tool / source '
      'Dovecot / target Dovecot | mailferry/mbsync |')
    a('|---|---|---|---:|---:|---:|---:|---:|---:|')
    groups = collections.OrderedDict()
    for r in counted:
        key = (r.corpus.name, net_label(r.net) + (' (%s)' % r.tag if r.tag else ''))
        groups.setdefault(key, {}).setdefault(r.tool, []).append(r)
    for (cn, net), tools in groups.items():
        mf = tools.get('mailferry', [])
        ms = tools.get('mbsync', [])
        ratio = ''
        if mf and ms and median([r.msgs for r in ms]):
            ratio = '**%.2f×**' % (median([r.msgs for r in mf]) / median([r.msgs for r in ms]))
        for tool, rs in (('mailferry', mf), ('mbsync', ms)):
            if not rs:
                continue
            wrong = sum(1 for r in rs if not r.ok)
            rss_s = '%.1f' % (max(r.rss_kb or 0 for r in rs) / 1024)
            if tool == 'mbsync' and rs[0].parallel > 1:
                rss_s += ' (%.1f)' % (max(r.rss_proc_kb or 0 for r in rs) / 1024)
            a('| %s | %s | %s | %d%s | %.0f | %.1f | %s | %s | %s |' % (
                cn, net, _tool_label(rs[0]), len(rs), ' (%d WRONG)' % wrong if wrong else '',
                median([r.msgs for r in rs]), median([r.mbs for r in rs]), rss_s,
                _cpu3(rs), ratio if tool == 'mailferry' else ''))
    a('')
    if b.rss20 is not None:
        r = b.rss20
        a('Peak RSS of mailferry with %d mailboxes in parallel (`run --workers %d`, corpus %s, '
          'loopback, endpoints with `--max-connections 64`): **%.1f MiB** (target ≤ 64 MiB: %s); '
          '%s jobs seen running at once; %.0f msg/s, %.1f MB/s%s.' % (
              r.parallel, r.parallel, r.corpus.name, (r.rss_kb or 0) / 1024,
              'met' if (r.rss_kb or 0) <= 64 * 1024 else 'NOT met',
              r.peak_jobs if r.peak_jobs is not None else '?', r.msgs, r.mbs,
              '' if r.ok else ', WRONG COUNT'))
        a('')
    # where the latency goes: extra wall time at RTT over loopback (or over the 0 ms
    # proxy run of the proxy check, which also carries the proxy's own cost)
    lat = []
    for (cn, net), tools in groups.items():
        if 'RTT' not in net:
            continue
        for tool, rs in tools.items():
            base = groups.get((cn, net.replace('%g ms RTT' % args.rtt_ms, 'loopback')),
                              {}).get(tool)
            p0 = [x for x in b.check_runs if x.corpus.name == cn and x.tool == tool
                  and x.net == ('proxy', 0) and x.parallel == rs[0].parallel]
            if not base and not p0:
                continue
            rtt = args.rtt_ms / 1000.0
            t = median([r.seconds for r in rs])
            parts = []
            for label, t0 in (('loopback', median([r.seconds for r in base]) if base else None),
                              ('0 ms proxy', p0[0].seconds if p0 else None)):
                if t0 is None:
                    continue
                trips = (t - t0) / rtt          # per connection pair (worker)
                per_user = trips * rs[0].parallel / len(rs[0].corpus.users)
                parts.append('%+.1f s over %s ≈ %.0f round trips per worker, %.0f per mailbox'
                             % (t - t0, label, trips, per_user))
            lat.append('%s %s%s: %s' % (cn, _tool_label(rs[0]),
                                        ' (%s)' % rs[0].tag if rs[0].tag else '',
                                        ', '.join(parts)))
    if lat:
        a('Cost of the %g ms RTT (median wall time at RTT minus the baseline, in sequential '
          'round trips): %s.' % (args.rtt_ms, '; '.join(lat)))
    for (cn, net), tools in groups.items():
        if not net.endswith('(sequential)'):
            continue
        par = groups.get((cn, net.replace(' (sequential)', '')), {}).get('mailferry')
        seq = tools.get('mbsync')
        if par and seq and median([r.msgs for r in seq]):
            a('Corpus %s, %s: mailferry ×%d moves %.2f× as many messages/s as mbsync run one '
              'mailbox at a time (%.0f vs %.0f msg/s).' % (
                  cn, net.replace(' (sequential)', ''), par[0].parallel,
                  median([r.msgs for r in par]) / median([r.msgs for r in seq]),
                  median([r.msgs for r in par]), median([r.msgs for r in seq])))
    if getattr(b, 'calibration', None):
        direct, via = b.calibration
        a('Proxy calibration: IMAP NOOP round trip %.2f ms direct, %.2f ms through the delay '
          'proxy.' % (direct * 1000, via * 1000))
    pc = [r for r in b.check_runs if r.net == ('proxy', 0)]
    if pc:
        parts = []
        for r in pc:
            direct = [x for x in b.check_runs if x.tool == r.tool and x.net == ('direct', 0)]
            parts.append('%s %.0f msg/s through a 0 ms proxy vs %.0f direct just before '
                         '(proxy CPU %.0f%% of a core)' % (
                             r.tool, r.msgs, direct[0].msgs if direct else 0,
                             100 * (r.proxy_cpu or 0)))
        a('Proxy overhead check (corpus %s): %s.' % (pc[0].corpus.name, '; '.join(parts)))
    if b.deep:
        a('Deep check after the first timed mailferry run (bytes, flags, INTERNALDATE): ' +
          '; '.join('%s/%s %s' % (cn, u, 'identical' if ok else 'DIFFERENT')
                    for cn, u, ok, rep, secs in b.deep) + '.')
    every = b.runs + b.check_runs + ([b.rss20] if b.rss20 else [])
    noisy = [r for r in every if (r.foreign or 0) >= NOISY]
    if noisy:
        a('')
        a('**Warning**: other processes used ≥ %.2f cores during %d of %d run(s) (up to %.2f '
          'cores; column "Other load" below; %d run(s) started after waiting %d s in vain for '
          'a quiet machine): the machine was shared, those numbers are pessimistic.' % (
              NOISY, len(noisy), len(every),
              max(r.foreign for r in noisy), b.busy_starts, args.quiet_wait))
    a('')
    a('<details><summary>Every run</summary>')
    a('')
    a('| Corpus | Network | Run | Tool | s | msg/s | MB/s | Peak RSS (MiB) | CPU s: tool / '
      'src / dst | Other load (cores) | Target count |')
    a('|---|---|---|---|---:|---:|---:|---:|---:|---:|---|')
    for r in every:
        a('| %s | %s | %s | %s | %.2f | %.0f | %.1f | %.1f | %s | %s | %s |' % (
            r.corpus.name, net_label(r.net), 'warm-up' if r.warmup else (
                r.tag or ('--workers %d' % r.parallel if r is b.rss20 else '#%d' % r.seq)),
            _tool_label(r), r.seconds or 0, r.msgs, r.mbs, (r.rss_kb or 0) / 1024,
            _cpu3([r]), '%.2f' % r.foreign if r.foreign is not None else '?',
            '%d ok' % r.copied if r.ok else 'WRONG (%s of %d)' % (r.copied, r.corpus.messages)))
    a('')
    a('</details>')
    a('')
    a('Commands: `make bench` (= `MAILFERRY=./mailferry PYTHONPATH=tests python3 '
      'tests/bench/bench.py`%s); timed: %s.' % (
          ', here with `%s`' % ' '.join(sys.argv[1:]) if sys.argv[1:] else '',
          '; '.join('`%s`%s' % (cmd, ' (%s)' % note if note else '')
                    for cmd, note in b.commands.values())))
    if b.notes:
        a('')
        for n in b.notes:
            a('- note: %s' % n)
    return '\n'.join(L) + '\n'


# ---------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--quick', action='store_true',
                    help='small corpora, no warm-up, 1 run per tool (smoke test)')
    ap.add_argument('--only', choices=['A', 'B'], help='only this corpus')
    ap.add_argument('--rtt-ms', type=float, default=20.0,
                    help='round-trip time added by the delay proxy (default 20; 0: skip)')
    ap.add_argument('--rtt-side', choices=['target', 'source', 'both'], default='target')
    ap.add_argument('--workers', type=int, default=4,
                    help='mailferry workers and mbsync processes for corpus A (default 4)')
    ap.add_argument('--runs', type=int, help='timed runs per tool and scenario (default 3)')
    ap.add_argument('--warmup', type=int, help='warm-up runs per tool on loopback (default 1)')
    ap.add_argument('--a-users', type=int, help='corpus A users (default 20)')
    ap.add_argument('--a-messages', type=int, help='corpus A messages per user (default 500)')
    ap.add_argument('--b-messages', type=int, help='corpus B messages (default 20000)')
    ap.add_argument('--no-rss20', action='store_true', help='skip the --workers 20 RSS check')
    ap.add_argument('--no-proxy-check', action='store_true',
                    help='skip the 0 ms pass-through proxy check')
    ap.add_argument('--no-deep', action='store_true', help='skip the deep content comparison')
    ap.add_argument('--no-sequential', action='store_true',
                    help='skip the reference runs of corpus A with one mailbox at a time')
    ap.add_argument('--budget', type=float, default=330,
                    help='seconds of counted runs per scenario: no further mailferry/mbsync '
                    'pair is started when it would end after this (default 330; 0: no limit)')
    ap.add_argument('--timeout', type=float, default=900, help='seconds per tool run')
    ap.add_argument('--quiet-wait', type=float, default=30,
                    help='before each run, wait up to this many seconds for other processes '
                    'to use less than %.2f cores (default 30; 0: do not wait)' % QUIET)
    ap.add_argument('--target-on-disk', action='store_true',
                    help='keep the target mail on disk instead of tmpfs')
    ap.add_argument('--mf-run-single', action='store_true',
                    help='corpus B with queue + run --workers 1 instead of migrate')
    ap.add_argument('--output', help='markdown file to write (default: '
                    'tests/bench/last-results.md for full runs, none for --quick)')
    args = ap.parse_args(argv)
    q = args.quick
    args.runs = args.runs or (1 if q else 3)
    args.warmup = args.warmup if args.warmup is not None else (0 if q else 1)
    a_users = args.a_users or 20
    a_msgs = args.a_messages or (30 if q else 500)
    b_msgs = args.b_messages or (2000 if q else 20000)
    if args.output is None and not q:
        args.output = os.path.join(HERE, 'last-results.md')

    binary = cli.require_binary()
    if not have_dovecot():
        print('SKIP: dovecot not found')
        return 77
    if not mbsync.have_mbsync():
        print('SKIP: mbsync not found')
        return 77
    info = machine_info()
    mf_ver = mailferry_version(binary)
    log('mailferry benchmark (%s mode): %s' % ('quick' if q else 'full', binary))
    log('machine: %s CPU(s), %s, kernel %s; %s; dovecot %s' % (
        info['nproc'], info['CPU'], info['kernel'], info['mbsync'], info['dovecot']))

    corpora = []
    if args.only in (None, 'A'):
        corpora.append(Corpus('A', ['user%03d' % i for i in range(1, a_users + 1)], a_msgs,
                              'realistic', A_FOLDERS, seed=11))
    if args.only in (None, 'B'):
        corpora.append(Corpus('B', ['bigbox'], b_msgs, 'small', [('INBOX', 1)], seed=22))
    users = [u for c in corpora for u in c.users]
    b = Bench(args, binary)
    t_all = time.monotonic()
    try:
        b.start_servers(users)
        log('servers: source %s; target %s' % (b.src.describe(), b.dst.describe()))
        for c in corpora:
            log('filling corpus %s ...' % c.name)
            fill(b.src, c)
            log('  %s filled in %.1f s (%.0f msg/s, %.1f MB/s)' % (
                c.describe(), c.fill_seconds, c.messages / c.fill_seconds,
                c.bytes / 1e6 / c.fill_seconds))
        for c in corpora:
            b.scenario(c, ('direct', 0), args.runs, args.warmup, budget=args.budget)
        if not args.no_rss20 and corpora[0].name == 'A':
            b.rss20_check(corpora[0])
        if args.rtt_ms > 0:
            if not args.no_proxy_check:
                b.proxy_check(corpora[0])
            for c in corpora:
                b.scenario(c, ('proxy', args.rtt_ms / 2.0), args.runs, 0,
                           budget=args.budget)
        multi = [c for c in corpora if len(c.users) > 1]
        if multi and not args.no_sequential and args.workers > 1:
            # reference point: one mailbox at a time (how mbsync is often run, and
            # what the "about 350 messages/s at 20 ms RTT" corresponds to)
            for net in [('direct', 0)] + ([('proxy', args.rtt_ms / 2.0)] if args.rtt_ms > 0
                                          else []):
                b.scenario(multi[0], net, 1, 0, workers=1, tag='sequential')
    except KeyboardInterrupt:
        log('interrupted')
        b.stop_servers()
        return 130
    except Exception:
        import traceback
        traceback.print_exc()
        aborted = True
        for srv in (b.src, b.dst):
            if srv is not None and srv.dir:
                srv.print_log_tail(20, file=sys.stdout)
    else:
        aborted = False
    finally:
        b.stop_servers()
    total = time.monotonic() - t_all
    report = build_report(b, corpora, info, mf_ver, args, total)
    if aborted:
        report += '\n**The benchmark was aborted by an error (see its output); partial results.**\n'
    log('')
    log(report)
    if args.output:
        with open(args.output, 'w') as f:
            f.write(report)
        log('written to %s' % args.output)
    if aborted:
        return 1
    if b.failures:
        log('FAIL: %d mailferry run(s) failed or copied a wrong number of messages'
            % len(b.failures))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
