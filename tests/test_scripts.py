#!/usr/bin/python3
"""Admin scripts at job events, with real Dovecot servers and real scripts:
a failing before_first_pass script holds the job (paused by "script", the
reason kept, nothing copied), and after the script is fixed, resume + run
complete it; the after_completion and on_failure scripts run with the job's
facts in MAILFERRY_* variables; no script ever sees a password, a password
source (env:VAR, file:PATH) or anything else of mailferry's environment; a
hanging script and what it started are stopped at script_timeout_s and the
job is held with "timed out after N s"; stopping mailferry stops a running
script too and puts its job back in the queue, not held; a relative script
path is refused with the key named; a failing at_cutover script holds a
ready job's cutover (paused in its final phase, nothing more copied) until
it is fixed and the job resumed.

Run: MAILFERRY=./mailferry python3 tests/test_scripts.py   (exit 0 pass, 77 skip, 1 fail)
"""

import os
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import corpus, fixtures, imapcheck, report     # noqa: E402

MESSAGES = 25
# Something only mailferry's own environment has: no script may see it.
SENTINEL = 'MFTEST_SECRET_SENTINEL'


def write_script(mf, name, body):
    path = os.path.join(mf.dir, 'scripts', name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('#!/bin/sh\n' + body)
    os.chmod(path, 0o755)
    return path


def read_env(path):
    """The variables a script dumped with `env -0`, as a dict (None if absent)."""
    if not os.path.exists(path):
        return None
    with open(path, 'rb') as f:
        raw = f.read().decode('utf-8', 'replace')
    return dict(item.split('=', 1) for item in raw.split('\0') if '=' in item)


def job(mf, jid):
    con = sqlite3.connect('file:%s?mode=ro' % mf.store, uri=True, timeout=10)
    try:
        con.row_factory = sqlite3.Row
        return con.execute('SELECT * FROM jobs WHERE id=?', (jid,)).fetchone()
    finally:
        con.close()


def alive_after(pid, seconds):
    """Whether pid still exists after waiting up to seconds for it to go."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True


def target_count(dst, user):
    return imapcheck.read_user_tree(dst, user, keep_bodies=False).count()


def main(c):
    fixtures.run_on_pair(c, run_checks, users=5)


def run_checks(c, mf, src, dst):
    out = os.path.join(mf.dir, 'out')
    os.makedirs(out)
    corpus.bulk(src, 'user001', MESSAGES, folders=['INBOX', 'Archive'], sizes='small', seed=5)
    # The source's password comes from mailferry's environment (env:VAR),
    # the target's from a file: neither may reach a script.
    mf.endpoint_add('src', src, source='env')
    mf.endpoint_add('dst', dst)
    secrets = [src.admin_password, dst.admin_password, mf.password_files['dst'], 'MFTEST_PW_SRC', SENTINEL]

    dump = 'env -0 > %s/env.$MAILFERRY_EVENT.$MAILFERRY_JOB_ID\n' % out
    before = write_script(mf, 'before.sh', dump +
                          'echo "checking $MAILFERRY_SOURCE_USER"\n'
                          'if [ -e %s/deny ]; then echo "not ready: mailbox on hold" >&2; exit 3; fi\n' % out)
    after = write_script(mf, 'after.sh', dump + 'echo "moved $MAILFERRY_ITEMS messages"\n')
    failed = write_script(mf, 'failed.sh', dump + 'echo "failure seen: $MAILFERRY_ERROR"\nexit 1\n')
    for key, value in (('script_before_first_pass', before), ('script_after_completion', after),
                       ('script_on_failure', failed), ('script_timeout_s', '20')):
        r = mf.run('config', 'set', key, value)
        c.check(r.rc == 0, 'config set %s' % key, r)
    r = mf.run('config', 'show')
    c.check(r.rc == 0 and 'script_before_first_pass' in r.out and 'script_timeout_s' in r.out,
            'config show lists the script keys', r)
    env = {SENTINEL: 'do-not-pass-me'}

    # ------------------------------------------------ a failing pre-script holds the job
    open(os.path.join(out, 'deny'), 'w').close()
    r = mf.run('queue', 'src', 'dst', 'user001')
    c.check(r.rc == 0 and 'job 1 queued' in r.out, 'queue user001 (job 1)', r)
    r = mf.run('run', '--workers', '2', env=env, timeout=120)
    j = job(mf, 1)
    c.check(r.rc != 0 and 'job 1 held' in r.err and 'exited with status 3' in r.err,
            'run: exit %s, says the job is held and why' % r.rc, r)
    c.check(j['state'] == 'paused' and j['paused_by'] == 'script' and
            'exited with status 3: not ready: mailbox on hold' in (j['error'] or ''),
            'job 1 is paused by "script" with the script\'s reason (%s, %s, %s)'
            % (j['state'], j['paused_by'], j['error']))
    c.check(j['items_done'] == 0 and target_count(dst, 'user001') == 0, 'nothing was copied')
    r = mf.run('events', '--job', '1')
    c.check('script before_first_pass: checking user001' in r.out and
            'script before_first_pass: not ready: mailbox on hold' in r.out and 'mailferry resume 1' in r.out,
            'the script\'s output (stdout and stderr) is in the job\'s events, and how to go on', r)
    r = mf.run('job', 'show', '1')
    c.check(r.rc == 0 and 'paused by    script' in r.out, 'job show: paused by script', r)
    e1 = read_env(os.path.join(out, 'env.before_first_pass.1'))
    c.check(e1 is not None and e1.get('MAILFERRY_EVENT') == 'before_first_pass' and e1.get('MAILFERRY_JOB_ID') == '1' and
            e1.get('MAILFERRY_SOURCE_USER') == 'user001' and e1.get('MAILFERRY_TARGET_USER') == 'user001' and
            e1.get('MAILFERRY_SOURCE_ENDPOINT') == 'src' and e1.get('MAILFERRY_TARGET_ENDPOINT') == 'dst' and
            e1.get('MAILFERRY_STATE') == 'running' and e1.get('MAILFERRY_ITEMS') == '0' and
            e1.get('MAILFERRY_PASS') == 'full' and e1.get('MAILFERRY_STORE') == mf.store and 'PATH' in e1,
            'the pre-script sees the job\'s facts', e1)

    # ------------------------------------------------ fixed and resumed: it runs
    os.unlink(os.path.join(out, 'deny'))
    r = mf.run('resume', '1')
    c.check(r.rc == 0, 'resume 1', r)
    r = mf.run('run', '--workers', '2', env=env, timeout=300)
    j = job(mf, 1)
    c.check(r.rc == 0 and j['state'] == 'completed' and j['items_done'] == MESSAGES,
            'after the fix, run completes job 1 (%s, %d messages)' % (j['state'], j['items_done']), r)
    c.check(target_count(dst, 'user001') == MESSAGES, 'the target holds the %d messages' % MESSAGES)
    ea = read_env(os.path.join(out, 'env.after_completion.1'))
    c.check(ea is not None and ea.get('MAILFERRY_EVENT') == 'after_completion' and
            ea.get('MAILFERRY_STATE') == 'completed' and ea.get('MAILFERRY_ITEMS') == str(MESSAGES) and
            int(ea.get('MAILFERRY_BYTES', '0')) > 0 and int(ea.get('MAILFERRY_FINISHED', '0')) > 0,
            'the after_completion script ran with the final counts', ea)
    r = mf.run('events', '--job', '1')
    c.check('script after_completion: moved %d messages' % MESSAGES in r.out and 'succeeded' in r.out,
            'its output is in the events', r)

    # ------------------------------------------------ failure: on_failure runs, its exit 1 changes nothing
    r = mf.run('queue', 'src', 'dst', 'ghost')
    c.check(r.rc == 0 and 'job 2 queued' in r.out, 'queue ghost (no such mailbox: job 2)', r)
    r = mf.run('run', env=env, timeout=120)
    j = job(mf, 2)
    ef = read_env(os.path.join(out, 'env.on_failure.2'))
    c.check(j['state'] == 'failed' and ef is not None and ef.get('MAILFERRY_EVENT') == 'on_failure' and
            ef.get('MAILFERRY_STATE') == 'failed' and ef.get('MAILFERRY_ERROR') and
            ef.get('MAILFERRY_SOURCE_USER') == 'ghost',
            'the on_failure script ran with the job\'s error', (j['state'], ef))
    r = mf.run('events', '--job', '2')
    c.check('script on_failure: failure seen:' in r.out and 'exited with status 1' in r.out,
            'its output and its exit status are in the events', r)

    # ------------------------------------------------ never a secret
    dumps = [os.path.join(out, f) for f in os.listdir(out) if f.startswith('env.')]
    leaked = []
    for path in dumps:
        with open(path, 'rb') as f:
            raw = f.read()
        leaked += ['%s in %s' % (s, os.path.basename(path)) for s in secrets if s.encode() in raw]
    c.check(len(dumps) >= 4 and not leaked,
            'no script saw a password, a password source or mailferry\'s other variables (%d environments '
            'scanned)' % len(dumps), leaked)

    # ------------------------------------------------ a hanging script is stopped
    hang = write_script(mf, 'hang.sh', 'echo "about to hang"\nsleep 300 &\necho $! > %s/child.pid\nwait\n' % out)
    for key, value in (('script_before_first_pass', hang), ('script_timeout_s', '2')):
        r = mf.run('config', 'set', key, value)
        c.check(r.rc == 0, 'config set %s %s' % (key, value), r)
    r = mf.run('queue', 'src', 'dst', 'user002')
    c.check(r.rc == 0 and 'job 3 queued' in r.out, 'queue user002 (job 3)', r)
    t0 = time.monotonic()
    r = mf.run('run', env=env, timeout=120)
    secs = time.monotonic() - t0
    j = job(mf, 3)
    c.check(r.rc == 75 and 'timed out after 2 s' in r.err and 2 <= secs < 15,
            'a hanging script is stopped at the limit (%.1f s) and the run says so: exit %s' % (secs, r.rc), r)
    c.check(j['state'] == 'paused' and j['paused_by'] == 'script' and 'timed out after 2 s' in (j['error'] or ''),
            'the job is held with "timed out after 2 s"', dict(j))
    with open(os.path.join(out, 'child.pid')) as f:
        child = int(f.read().strip() or 0)
    c.check(child > 0 and not alive_after(child, 5), 'what the script started (sleep, pid %d) was stopped too' % child)
    r = mf.run('events', '--job', '3')
    c.check('script before_first_pass: about to hang' in r.out, 'its output before the limit is kept', r)

    # ------------------------------------------------ stopping mailferry stops the script, the job is not held
    os.unlink(os.path.join(out, 'child.pid'))
    r = mf.run('config', 'set', 'script_timeout_s', '300')
    r = mf.run('queue', 'src', 'dst', 'user003')
    c.check(r.rc == 0 and 'job 4 queued' in r.out, 'queue user003 (job 4), the script limit back to 300 s', r)
    p = mf.start('run', env=env)
    pidfile = os.path.join(out, 'child.pid')
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (os.path.exists(pidfile) and os.path.getsize(pidfile)):
        time.sleep(0.05)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    r = mf.finish(p, timeout=60)
    secs = time.monotonic() - t0
    j = job(mf, 4)
    with open(pidfile) as f:
        child = int(f.read().strip() or 0)
    c.check(secs < 10 and j['state'] == 'queued' and j['paused_by'] is None,
            'SIGTERM to run while its script hangs: it stops in %.1f s, job 4 back in the queue, not held (%s)'
            % (secs, j['state']), r)
    c.check(child > 0 and not alive_after(child, 5), 'the script\'s child was stopped too (pid %d)' % child)

    # ------------------------------------------------ a relative path is refused clearly
    r = mf.run('config', 'set', 'script_before_first_pass', 'scripts/before.sh')
    c.check(r.rc == 0, 'config set script_before_first_pass to a relative path', r)
    r = mf.run('resume', '3')
    r = mf.run('run', env=env, timeout=120)
    j = job(mf, 3)
    c.check(r.rc == 78 and 'script_before_first_pass' in r.err and 'absolute path' in r.err and
            j['state'] == 'paused', 'a relative script path: exit 78 naming the key; the job stays held', r)
    cutover_hold(c, mf, src, dst, out, env)
    c.check(mf.store_integrity() == 'ok', 'store integrity_check ok')


def cutover_hold(c, mf, src, dst, out, env):
    """A failing at_cutover script holds the cutover: the job waits paused
    by "script" in its final phase, nothing more copied; fixed and resumed,
    the final pass runs and the job completes, each message once."""
    cut = write_script(mf, 'cutover.sh', 'env -0 > %s/env.$MAILFERRY_EVENT.$MAILFERRY_JOB_ID\n'
                       'if [ -e %s/deny_cutover ]; then echo "MX not switched yet" >&2; exit 4; fi\n' % (out, out))
    for key, value in (('script_before_first_pass', ''), ('script_at_cutover', cut)):
        r = mf.run('config', 'set', key, value)
        c.check(r.rc == 0, 'config set %s %r' % (key, value), r)
    for jid in ('3', '4'):
        mf.run('cancel', jid)
    corpus.bulk(src, 'user004', 10, folders=['INBOX', 'Sent'], sizes='small', seed=8)
    r = mf.run('queue', 'src', 'dst', 'user004', '--suspend-when-ready')
    c.check(r.rc == 0 and 'job 5 queued' in r.out, 'queue user004 --suspend-when-ready (job 5)', r)
    r = mf.run('run', env=env, timeout=300)
    initial = target_count(dst, 'user004')
    c.check(job(mf, 5)['state'] == 'ready' and initial == 10, 'job 5 is ready to complete, its 10 messages copied', r)
    corpus.bulk(src, 'user004', 3, folders=['INBOX'], sizes='small', seed=9)
    open(os.path.join(out, 'deny_cutover'), 'w').close()
    r = mf.run('cutover', '5')
    c.check(r.rc == 0, 'cutover 5', r)
    r = mf.run('run', env=env, timeout=300)
    j = job(mf, 5)
    c.check(j['state'] == 'paused' and j['paused_by'] == 'script' and 'MX not switched yet' in (j['error'] or '') and
            j['phase'] == 'final', 'a failing at_cutover script holds the cutover (%s, %s, %s, phase %s)'
            % (j['state'], j['paused_by'], j['error'], j['phase']), r)
    c.check(target_count(dst, 'user004') == initial, 'nothing copied by the held cutover (%d)' % initial)
    ec = read_env(os.path.join(out, 'env.at_cutover.5'))
    c.check(ec is not None and ec.get('MAILFERRY_EVENT') == 'at_cutover' and ec.get('MAILFERRY_SOURCE_USER') == 'user004',
            'the at_cutover script saw the job\'s facts', ec)
    os.unlink(os.path.join(out, 'deny_cutover'))
    r = mf.run('resume', '5')
    c.check(r.rc == 0, 'resume 5', r)
    r = mf.run('run', env=env, timeout=300)
    j = job(mf, 5)
    c.check(j['state'] == 'completed' and target_count(dst, 'user004') == initial + 3,
            'fixed and resumed: the final pass copies the 3 new messages and the job completes (%s, %d on the '
            'target)' % (j['state'], target_count(dst, 'user004')), r)


if __name__ == '__main__':
    report.main(main, 'test_scripts')
