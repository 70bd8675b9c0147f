#!/usr/bin/python3
"""Crash safety and network faults: kill -9 at random moments, connections
dropped mid-APPEND and mid-FETCH, 20 ms of round-trip delay.  After each fault
scenario, every source message must be on the target exactly as many times as
on the source (the corpus has byte-identical copies), with flags and dates.

Run: MAILFERRY=src/mailferry python3 tests/test_faults.py   (exit 0 pass, 77 skip, 1 fail)
Env: MFTEST_SEED (default 20261124) seeds the kill moments and fault positions;
     MFTEST_KILLS (default 12) number of kill -9 to deliver.
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, corpus, fixtures, jobs, proxy, report     # noqa: E402

SEED = int(os.environ.get('MFTEST_SEED', '20261124'))
KILLS = int(os.environ.get('MFTEST_KILLS', '12'))


Via = proxy.Via


def verify_check(c, mf, what, *args):
    r = mf.run('verify', *args, timeout=300)
    c.check(fixtures.verdict(r.text) == (0, 0, 0),
            '%s: verify says 0 missing, 0 extra, 0 differ' % what, r)


def mailbox(target):
    return 'user001' if target == 'user001' else 'user001=' + target


def main(c):
    fixtures.require()
    rng = random.Random(SEED)
    c.info('seed %d' % SEED)
    mf = cli.Mailferry()
    try:
        with fixtures.pair(checks=c) as (src, dst):
            run_checks(c, mf, src, dst, rng)
    finally:
        mf.cleanup()


def run_checks(c, mf, src, dst, rng):
    t0 = time.monotonic()
    man = corpus.fill(src, 'user001', seed=3, target_sep=dst.separator, big=True)
    st = corpus.bulk(src, 'user001', 3000, folders=['bulk/f%d' % i for i in range(1, 6)],
                     sizes='small', seed=4)
    c.info('source user001: corpus %s + %d bulk messages (%.1f MB), filled in %.1fs' % (
        man.summary(), st['messages'], st['bytes'] / 1e6, time.monotonic() - t0))
    corpus.fill(src, 'user002', seed=5, target_sep=dst.separator, big=False)
    corpus.bulk(src, 'user002', 300, folders=['bulk'], sizes='small', seed=6)
    mf.endpoint_add('src', src)
    mf.endpoint_add('dst', dst)

    # ------------------------------------------------------------ reference run
    r = mf.run('migrate', 'src', 'dst', 'user001=user090', timeout=600)
    t_full = r.seconds
    c.check(r.rc == 0, 'uninterrupted run (user001=user090): exit %s in %.2fs' % (r.rc, t_full), r)
    jobs.exactly_once(c, 'uninterrupted run', src, dst, 'user001', 'user090')

    # ------------------------------------------------------------ kill -9
    # How long a run takes with nothing to copy (start-up, listing, comparing):
    r = mf.run('migrate', 'src', 'dst', 'user001=user090', timeout=600)
    t_noop = r.seconds
    c.check(r.rc == 0 and fixtures.says_copied(r.text, 0),
            'run with nothing left to copy: exit %s in %.2fs, 0 copied' % (r.rc, t_noop), r)
    # Most kills land in the copying phase, spread so that the work ends around
    # the last kill; some land early (listing, folder creation).  When a run ends
    # before its kill (the mailbox is complete), the next kills go to a fresh
    # target user, so that KILLS kills are always delivered.
    active = max(0.3, t_full - t_noop)
    targets = ['user001', 'user095', 'user096', 'user097']
    ti = 0
    used = ['user001']
    killed = finished = attempts = 0
    bad = []
    delays = []
    while killed < KILLS and attempts < KILLS * 4:
        attempts += 1
        if rng.random() < 0.2:
            delay = rng.uniform(0.02, max(0.05, t_noop))
        else:
            delay = t_noop + rng.uniform(0, 2.0 * active / KILLS)
        was_killed, r = mf.kill_after(delay, 'migrate', 'src', 'dst', mailbox(targets[ti]))
        delays.append(round(delay, 2))
        if was_killed:
            killed += 1
        else:
            finished += 1
            if r.rc not in (0, 1, 75):
                bad.append(r)
            if ti + 1 < len(targets):
                ti += 1
                used.append(targets[ti])
    c.info('kill -9: %d kills (delays %s), %d runs ended by themselves; targets %s' % (
        killed, delays, finished, used))
    c.check(killed >= min(10, KILLS), 'delivered %d kill -9 (>= %d)' % (killed, min(10, KILLS)))
    c.check(not bad, 'runs that ended by themselves exited 0/1/75', '\n'.join(map(str, bad[:3])))
    for t in used:
        r = mf.run('migrate', 'src', 'dst', mailbox(t), timeout=600)
        c.check(r.rc == 0, 'final clean run for user001=%s after the kills: exit %s' % (t, r.rc), r)
        jobs.exactly_once(c, 'after kill -9 (target %s)' % t, src, dst, 'user001', t)
        verify_check(c, mf, 'after kill -9 (target %s)' % t, 'src', 'dst', mailbox(t))
    c.check(mf.store_integrity() == 'ok', 'store integrity_check ok after the kills')

    # ------------------------------------------------------------ kill -9 of run (queue)
    r = mf.run('queue', 'src', 'dst', 'user002=user093')
    c.check(r.rc == 0, 'queue user002=user093', r)
    for i in range(3):
        mf.kill_after(rng.uniform(0.1, 0.8), 'run', '--workers', '2')
    r = mf.run('run', '--workers', '2', timeout=600)
    c.check(r.rc == 0, 'run after 3 kill -9 of run: exit %s' % r.rc, r)
    jobs.exactly_once(c, 'queue after kills', src, dst, 'user002', 'user093')

    # ------------------------------------------------------------ drops mid-APPEND
    faults = [proxy.Fault(pattern=b'APPEND', count=1, extra_bytes=rng.randint(2000, 200000),
                          times=1) for _ in range(3)]
    with proxy.Proxy(('127.0.0.1', dst.port), faults=faults) as pd:
        mf.endpoint_add('dst-drop', Via(dst, pd))
        runs = []
        for i in range(6):
            r = mf.run('migrate', 'src', 'dst-drop', 'user001=user091', timeout=600)
            runs.append(r)
            if r.rc == 0:
                break
        c.info('drop mid-APPEND: %d drops over %d connections; exits %s' % (
            len(pd.drops), pd.nconn, [x.rc for x in runs]))
        c.check(len(pd.drops) >= 1, 'the proxy dropped target connections mid-APPEND (%d)'
                % len(pd.drops), pd.drops)
        c.check(all(x.rc in (0, 75) for x in runs), 'each run completed (0) or exited 75',
                '\n'.join(str(x) for x in runs if x.rc not in (0, 75)))
        c.check(runs[-1].rc == 0, 're-running completed within %d runs' % len(runs), runs[-1])
        jobs.exactly_once(c, 'after drops mid-APPEND', src, dst, 'user001', 'user091')
        pd.clear_faults()      # verify through the same endpoint, proxy now passing
        verify_check(c, mf, 'after drops mid-APPEND', 'src', 'dst-drop', 'user001=user091')

    # ------------------------------------------------------------ drops mid-FETCH (source)
    faults = [proxy.Fault(pattern=b'FETCH', count=rng.randint(1, 4), extra_bytes=0, times=1,
                          drop_wait=rng.uniform(0.0, 0.1)) for _ in range(2)]
    with proxy.Proxy(('127.0.0.1', src.port), faults=faults) as ps:
        mf.endpoint_add('src-drop', Via(src, ps))
        runs = []
        for i in range(6):
            r = mf.run('migrate', 'src-drop', 'dst', 'user001=user094', timeout=600)
            runs.append(r)
            if r.rc == 0:
                break
        c.info('drop mid-FETCH: %d drops; exits %s' % (len(ps.drops), [x.rc for x in runs]))
        c.check(len(ps.drops) >= 1, 'the proxy dropped source connections during FETCH (%d)'
                % len(ps.drops), ps.drops)
        c.check(all(x.rc in (0, 75) for x in runs) and runs[-1].rc == 0,
                'source drops: runs exit 0 or 75, and a re-run completes',
                '\n'.join(str(x) for x in runs))
    jobs.exactly_once(c, 'after drops mid-FETCH', src, dst, 'user001', 'user094')

    # ------------------------------------------------------------ 20 ms RTT
    with proxy.Proxy(('127.0.0.1', src.port), delay_ms=10) as p1, \
            proxy.Proxy(('127.0.0.1', dst.port), delay_ms=10) as p2:
        mf.endpoint_add('src-slow', Via(src, p1))
        mf.endpoint_add('dst-slow', Via(dst, p2))
        r = mf.run('migrate', 'src-slow', 'dst-slow', 'user002=user092', timeout=300)
        c.check(r.rc == 0, 'through 20 ms RTT proxies on both sides: exit %s in %.1fs' % (
            r.rc, r.seconds), r)
    jobs.exactly_once(c, 'through delay proxies', src, dst, 'user002', 'user092')


if __name__ == '__main__':
    report.main(main, 'test_faults')
