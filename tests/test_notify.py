#!/usr/bin/python3
"""Notifications against a real SMTP server process (Debian's aiosmtpd on
127.0.0.1): `notify test` delivers with the right headers and says what the
server answered; a refused recipient shows the server's exact words; a
server that is down exits 75; a template with an unknown placeholder is
refused naming file and line; a non-ASCII subject is RFC 2047 encoded; and
a real migration with --notify-user writes to the mailbox's owner when it
starts and when it completes, and a failed job to the admins; a
suspend-when-ready job's owner hears once that the mailbox is ready for the
switch (not after each incremental sync), the admins get no copy.  Scheduled
notices, with time moved through MAILFERRY_TEST_CLOCK: the owner of a job
with a start time hears notify_days_before days ahead, not earlier and
exactly once over several runs; the admins' daily summary arrives once a day
from summary_hour on, with the counts, the mailboxes completed, the failures
with their reasons and the data moved; a summary template with an unknown
placeholder is refused naming file and line.

Run: MAILFERRY=./mailferry python3 tests/test_notify.py   (exit 0 pass, 77 skip, 1 fail)
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, corpus, fixtures, report, smtpd, term     # noqa: E402


def write(mf, name, text):
    path = os.path.join(mf.dir, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


def subject_of(msgs, start):
    return [m for m in msgs if str(m['Subject']).startswith(start)]


def send_test(c, mf, s):
    r = mf.run('notify', 'test', 'alice@example.org')
    c.check(r.rc == 0 and 'sent to alice@example.org' in r.out and '250' in r.out,
            'notify test: exit 0, says what the server answered', r)
    msgs = s.wait(1)
    m = msgs[0] if msgs else None
    c.check(m is not None and m['X-Envelope-To'] == 'alice@example.org' and
            m['X-Envelope-From'] == 'ferry@example.org',
            'the server received it for alice from ferry@example.org', msgs)
    c.check(m is not None and m['To'] == 'alice@example.org' and m['From'] == 'ferry@example.org' and
            str(m['Subject']).startswith('mailferry test message from ') and m['Date'] and m['Message-ID'] and
            m.get_content_type() == 'text/plain' and m.get_content_charset() == 'utf-8',
            'headers: To, From, Subject, Date, Message-ID, text/plain UTF-8', str(m))
    c.check(m is not None and 'notifications reach alice@example.org' in m.get_content(),
            'the body is the template with its placeholders filled in', m.get_content() if m else '')

    r = mf.run('notify', 'test', 'nobody@example.org')
    c.check(r.rc == 78 and '550 5.1.1' in r.err and 'Recipient address rejected' in r.err and
            fixtures.one_line_error(r), 'a refused recipient: exit 78 with the server\'s exact answer', r)

    tdir = os.path.join(os.environ.get('MF_SRCDIR', '.'), 'data', 'templates')
    down = mf.run('-c', write(mf, 'down.conf', 'smtp_url = "smtp://127.0.0.1:%d";\nsmtp_from = "a@b.c";\n'
                                  'templates_dir = "%s";\n' % (smtpd.free_port(), tdir)),
                  'notify', 'test', 'bob@example.org', global_opts=False)
    c.check(down.rc == 75 and '127.0.0.1' in down.err and fixtures.one_line_error(down),
            'a server that is down: exit 75 naming it', down)

    r = mf.run('config', 'set', 'smtp_url', 'http://mail.example.org')
    c.check(r.rc == 78 and 'smtp://' in r.err, 'smtp_url must be smtp:// or smtps://', r)


def templates(c, mf, s):
    tdir = os.path.join(mf.dir, 'templates')
    write(mf, 'templates/test.txt', 'Subject: Grüße aus {host} — Test\n\nHallo {admin}, ça marche: {date}.\n')
    write(mf, 'templates/bad.txt', 'Subject: fine\n\nfirst line\nHello {colour}!\n')
    write(mf, 'templates/nosubject.txt', 'Hello {user}\n')
    r = mf.run('config', 'set', 'templates_dir', tdir)
    c.check(r.rc == 0, 'templates_dir set to the test\'s folder', r)
    r = mf.run('notify', 'preview', 'bad')
    c.check(r.rc == 78 and 'bad.txt:4: unknown placeholder {colour}' in r.err,
            'an unknown placeholder is refused with file and line', r)
    r = mf.run('notify', 'preview', 'nosubject')
    c.check(r.rc == 78 and 'nosubject.txt:1' in r.err and 'Subject' in r.err,
            'a template without its Subject line is refused', r)
    r = mf.run('notify', 'preview', 'absent')
    c.check(r.rc == 78 and 'absent.txt' in r.err, 'a missing template is named', r)
    before = len(s.messages())
    r = mf.run('notify', 'test', 'zoe@example.org')
    msgs = s.wait(before + 1)      # (subjects are looked up, not positions)
    m = subject_of(msgs, 'Grüße aus')
    c.check(r.rc == 0 and m and str(m[0]['Subject']).endswith('— Test') and
            'ça marche' in m[0].get_content(),
            'a non-ASCII subject arrives intact (RFC 2047) and the UTF-8 body too', [str(x['Subject']) for x in msgs])
    raw = m[0].as_string() if m else ''
    c.check('=?UTF-8?B?' in raw or '=?utf-8?b?' in raw.lower(), 'the subject is encoded on the wire', raw[:400])
    r = mf.run('config', 'set', 'templates_dir', os.path.join(os.environ.get('MF_SRCDIR', '.'), 'data', 'templates'))
    c.check(r.rc == 0, 'back to the shipped templates', r)


def job_events(c, mf, s):
    with fixtures.pair(checks=c) as (src, dst):
        corpus.bulk(src, 'user001', 25, folders=['INBOX'], sizes='small', seed=71)
        mf.endpoint_add('src', src)
        mf.endpoint_add('dst', dst)
        csv = write(mf, 'users.csv', 'login,address,display_name\n'
                                     'user001,zoe@example.org,Zoë Ångström\n'
                                     'ghost,ghost@example.org,No Such User\n')
        r = mf.run('mailbox', 'import', csv, '--endpoint', 'src')
        c.check(r.rc == 0, 'mailboxes with addresses imported', r)
        seen = {m['Message-ID'] for m in s.messages()}
        r = mf.run('queue', 'src', 'dst', 'user001', 'ghost', '--notify-user')
        c.check(r.rc == 0, 'two jobs queued with --notify-user', r)
        r = mf.run('run', '--workers', '1', timeout=300)
        msgs = s.wait(len(seen) + 4)      # start and complete for zoe, start and failed for ghost
        new = [m for m in msgs if m['Message-ID'] not in seen]
        start = subject_of(new, 'Your mailbox is being moved')
        done = subject_of(new, 'Your mailbox has been moved')
        failed = subject_of(new, 'mailferry: job')
        start = [m for m in start if m['To'] == 'zoe@example.org']
        c.check(len(start) == 1 and
                'Hello Zoë Ångström' in start[0].get_content(),
                'the owner is told when the migration starts', [str(m['Subject']) for m in new])
        c.check(len(done) == 1 and done[0]['To'] == 'zoe@example.org' and '25 messages' in done[0].get_content(),
                'and when it completes, with the count (25 messages)', done[0].get_content() if done else new)
        c.check(len(failed) == 1 and failed[0]['To'] == 'admins@example.org' and 'ghost' in str(failed[0]['Subject'])
                and 'Reason:' in failed[0].get_content(),
                'the admins are told about the failed job, with the reason', failed[0].get_content() if failed else new)
        r = mf.run('events', '--limit', '40')
        c.check('notification (complete) sent to zoe@example.org' in r.out, 'the events record what was sent', r)


def ready_event(c, mf, s):
    """A suspend-when-ready job with --notify-user, against real Dovecot: its
    owner hears "ready" when the initial pass ends, once: not again after an
    incremental sync (time moved on by MAILFERRY_TEST_CLOCK), then "moved"
    after the cutover; the admins get no copy."""
    clock = os.path.join(mf.dir, 'ready-clock')
    t0 = time.time()
    set_clock(clock, t0)
    env = {'MAILFERRY_TEST_CLOCK': clock, 'TZ': 'UTC'}
    with fixtures.pair(checks=c) as (src, dst):
        corpus.bulk(src, 'user005', 12, folders=['INBOX'], sizes='small', seed=75)
        mf.endpoint_add('src5', src)
        mf.endpoint_add('dst5', dst)
        csv = write(mf, 'ready.csv', 'login,address,display_name\nuser005,yves@example.org,Yves\n')
        r = mf.run('mailbox', 'import', csv, '--endpoint', 'src5')
        c.check(r.rc == 0, 'user005 imported with its address', r)
        seen = {m['Message-ID'] for m in s.messages()}

        def news(start):
            return [m for m in subject_of(s.messages(), start) if m['Message-ID'] not in seen]

        r = mf.run('queue', 'src5', 'dst5', 'user005', '--suspend-when-ready', '--notify-user', env=env)
        jid = re.search(r'job (\d+) queued', r.out)
        c.check(r.rc == 0 and jid, 'user005 queued --suspend-when-ready --notify-user', r)
        jid = jid.group(1) if jid else '0'
        r = mf.run('run', '--workers', '1', env=env, timeout=300)
        s.wait(len(seen) + 2)       # start, ready
        ready = news('Your mailbox is ready for the switch')
        c.check(r.rc == 0 and len(ready) == 1 and ready[0]['To'] == 'yves@example.org' and
                'Hello Yves' in ready[0].get_content() and '12 messages' in ready[0].get_content() and
                'switch you over' in ready[0].get_content(),
                'ready to complete: the owner is told, with the count and what happens next',
                [(str(m['Subject']), m['To']) for m in s.messages() if m['Message-ID'] not in seen])
        corpus.add_messages(src, 'user005', 'INBOX', 3, seed=76)
        set_clock(clock, t0 + 25 * 3600)
        r = mf.run('run', '--workers', '1', env=env, timeout=300)
        kinds = mf.run('events', '--job', jid, env=env)
        c.check(r.rc == 0 and 'ready to complete: the incremental pass is done' in kinds.out,
                'after 25 h an incremental sync ran, the job is ready again', kinds)
        r = mf.run('cutover', jid, env=env)
        r = mf.run('run', '--workers', '1', env=env, timeout=300)
        s.wait(len(seen) + 3)       # start, ready, complete
        c.check(len(news('Your mailbox is ready for the switch')) == 1,
                'no second "ready" message after the incremental sync',
                [str(m['Subject']) for m in s.messages() if m['Message-ID'] not in seen])
        done = news('Your mailbox has been moved')
        c.check(len(done) == 1 and done[0]['To'] == 'yves@example.org' and '15 messages' in done[0].get_content(),
                'after the cutover: "moved", 15 messages', done[0].get_content() if done else '')
        admins = [m for m in s.messages() if m['Message-ID'] not in seen and m['To'] == 'admins@example.org']
        c.check(admins == [], 'the admins get no copy of the owner\'s messages',
                [str(m['Subject']) for m in admins])
        r = mf.run('events', '--job', jid, env=env)
        c.check('notification (ready) sent to yves@example.org' in r.out, 'the events record the ready message', r)


# --------------------------------------------------------------- scheduled notices

def set_clock(path, t):
    """Moves every mailferry process started with MAILFERRY_TEST_CLOCK=path to t."""
    with open(path, 'w') as f:
        f.write('%d\n' % int(t))


def before_notice(c, mf, s, clock, env):
    """The owner of a job with a start time hears notify_days_before (3) days
    ahead: not earlier, once, across several runs."""
    csv = write(mf, 'more.csv', 'login,address,display_name\nuser002,bob@example.org,Bob Builder\n'
                                'user003,carol@example.org,Carol\n')
    r = mf.run('mailbox', 'import', csv, '--endpoint', 'src')
    c.check(r.rc == 0, 'user002 imported with its address', r)
    start = (int(time.time()) // 60 + 10 * 1440) * 60          # ten days ahead, on a whole minute
    when = time.strftime('%Y-%m-%d %H:%M', time.gmtime(start))
    r = mf.run('queue', 'src', 'dst', 'user002', '--notify-user', '--start-at', when, env=env)
    c.check(r.rc == 0 and 'not before' in r.out, 'user002 queued with --notify-user --start-at "%s"' % when, r)

    def befores():
        return [m for m in s.messages() if str(m['Subject']).startswith('Your mailbox moves in')]

    set_clock(clock, start - 5 * 86400)
    r = mf.run('run', env=env)
    c.check(r.rc == 0 and befores() == [], 'five days before: run sends no notice yet', r)
    set_clock(clock, start - 3 * 86400 + 60)
    r = mf.run('run', env=env)
    got = befores()
    c.check(r.rc == 0 and len(got) == 1 and got[0]['To'] == 'bob@example.org' and
            got[0]['X-Envelope-To'] == 'bob@example.org' and str(got[0]['Subject']) == 'Your mailbox moves in 3 days' and
            'Hello Bob Builder' in got[0].get_content() and when in got[0].get_content(),
            'three days before: the owner gets the "before" notice, with the date', [str(m['Subject']) for m in got])
    set_clock(clock, start - 3 * 86400 + 120)
    r1 = mf.run('run', env=env)
    set_clock(clock, start - 86400)
    r2 = mf.run('run', env=env)
    c.check(r1.rc == 0 and r2.rc == 0 and len(befores()) == 1,
            'two more runs (a minute and two days later): still exactly one notice', len(befores()))
    r = mf.run('events', '--limit', '60')
    c.check(r.out.count('notification (before) sent to bob@example.org') == 1, 'the events record it once', r)

    # The console's engine sends them too.
    if not term.TMUX:
        c.info('tmux is not installed: the console\'s engine is not tried')
        return
    when = time.strftime('%Y-%m-%d %H:%M', time.gmtime(start + 86400))
    r = mf.run('queue', 'src', 'dst', 'user003', '--notify-user', '--start-at', when, env=env)
    c.check(r.rc == 0, 'user003 queued to start a day after user002', r)
    with term.Term(mf, 'console --workers 1', env=env) as t:
        t.wait(lambda scr: 'Mailbox Jobs' in scr)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(befores()) < 2:
            time.sleep(0.2)
        got = [m for m in befores() if m['To'] == 'carol@example.org']
        c.check(len(got) == 1 and len(befores()) == 2 and 'Hello Carol' in got[0].get_content(),
                'the console\'s engine sends the notice that became due (to carol), and no other',
                [str(m['To']) for m in befores()])
        t.keys('q')


def daily_summary(c, mf, s, clock, env):
    """The admins' summary: not before summary_hour, once that day, again the
    next day; counts, completed mailboxes, failures with reasons."""
    real = time.time()
    top = (int(real) // 3600 + 1) * 3600                    # the next full hour
    if time.gmtime(top).tm_hour == 0:                       # 23:xx would count as "after 0"
        top += 3600
    hour = time.gmtime(top).tm_hour
    queued = 2 if term.TMUX else 1                          # user002, and user003 with tmux
    r = mf.run('config', 'set', 'summary_hour', str(hour))
    c.check(r.rc == 0, 'summary_hour %d' % hour, r)

    def summaries():
        return [m for m in s.messages() if str(m['Subject']).startswith('mailferry daily summary')]

    r = mf.run('notify', 'summary', env=env)
    c.check(r.rc == 0 and 'Subject: mailferry daily summary' in r.out and summaries() == [],
            'notify summary prints the summary and sends nothing', r)
    set_clock(clock, top - 1800)
    r = mf.run('run', env=env)
    c.check(r.rc == 0 and summaries() == [], 'half an hour before summary_hour: no summary', r)
    set_clock(clock, top + 60)
    r = mf.run('run', env=env)
    got = summaries()
    body = got[0].get_content() if got else ''
    c.check(r.rc == 0 and len(got) == 1 and got[0]['To'] == 'admins@example.org',
            'after summary_hour: one summary to admin_email', [str(m['Subject']) for m in got])
    c.check(re.search(r'completed +1\b', body) and re.search(r'failed +1\b', body) and
            re.search(r'queued +%d\b' % queued, body) and '1 completed, 1 failed' in str(got[0]['Subject']),
            'it counts the jobs by state (1 completed, 1 failed, %d queued)' % queued, body)
    c.check('user001 (src -> dst user001): 25 messages' in body and 'job 2, ghost (src -> dst):' in body and
            'Data moved: 25 messages' in body,
            'it names the mailbox completed, the failure with its reason, and the data moved', body)
    for t in (top + 120, top + 5 * 3600):
        set_clock(clock, t)
        r = mf.run('run', env=env)
    c.check(r.rc == 0 and len(summaries()) == 1, 'two more runs that day: still one summary', len(summaries()))
    set_clock(clock, top + 86400 + 60)
    r = mf.run('run', env=env)
    got = summaries()
    body = got[-1].get_content() if got else ''
    c.check(len(got) == 2 and 'Mailboxes completed (0)' in body and 'Failures (0)' in body,
            'the next day a second one, with nothing finished in its 24 hours', body)
    r = mf.run('notify', 'summary', '--send', env=env)
    c.check(r.rc == 0 and 'summary sent to admins@example.org' in r.out and
            len(summaries()) == 3, 'notify summary --send sends one now', r)
    r = mf.run('config', 'set', 'summary_hour', '-1')
    c.check(r.rc == 0, 'summary_hour back to -1', r)

    tdir = os.path.join(mf.dir, 'badtemplates')
    write(mf, 'badtemplates/summary.txt', 'Subject: summary {date}\n\nJobs:\n{counts}\nMoved: {moved}\n')
    r = mf.run('config', 'set', 'templates_dir', tdir)
    r = mf.run('notify', 'summary', env=env)
    c.check(r.rc == 78 and 'summary.txt:5: unknown placeholder {moved}' in r.err and 'counts' in r.err,
            'a summary template with an unknown placeholder: exit 78 naming file, line and the known ones', r)
    r = mf.run('config', 'set', 'templates_dir', os.path.join(os.environ.get('MF_SRCDIR', '.'), 'data', 'templates'))


def scheduled(c, mf, s):
    clock = os.path.join(mf.dir, 'clock')
    set_clock(clock, time.time())
    env = {'MAILFERRY_TEST_CLOCK': clock, 'TZ': 'UTC'}
    before_notice(c, mf, s, clock, env)
    daily_summary(c, mf, s, clock, env)


def main(c):
    cli.require_binary()
    smtpd.require()
    fixtures.require()
    mf = cli.Mailferry()
    try:
        with smtpd.Smtpd() as s:
            smtpd.configure(c, mf, s, ('admin_email', 'admins@example.org'))
            send_test(c, mf, s)
            templates(c, mf, s)
            job_events(c, mf, s)
            scheduled(c, mf, s)
            ready_event(c, mf, s)     # after the summaries, which count the jobs
    finally:
        mf.cleanup()


if __name__ == '__main__':
    report.main(main, 'test_notify')
