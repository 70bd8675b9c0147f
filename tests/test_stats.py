#!/usr/bin/python3
"""Schedule forecast, metrics and the statistics report after a real
migration (two Dovecot servers, the target refusing messages over 200 KB,
and an SMTP server, all on 127.0.0.1).

  - `schedule` before the run: both jobs in queue order, durations that follow
    from the measured mailbox sizes at the default rate, the basis line, the
    CSV, and the forecast recorded in the store;
  - `run`, then `schedule --actual`: the recorded forecast beside the real
    start and end of each job;
  - `metrics --csv` (per minute, per endpoint, one endpoint) against the
    engine's samples in the store, which add up to the messages copied;
  - `report --mailbox user001`: messages per folder equal to what the target
    server holds, the skipped message with its reason, the verify verdict,
    duration and rate; `report` (all): the project totals; `--email`
    delivers it to the SMTP server; bad arguments are refused;
  - the console: Metrics exports the same CSV as the command line (x, path
    typed in the prompt), f charts one endpoint; a job's detail shows its
    recorded forecast beside its end; the Report screen (R from Mailbox Jobs
    and the Summary) shows the job's folders and the project's totals, and m
    e-mails it;
  - queued again with a blackout window (New York time) holding user002: its
    forecast starts when the window ends, the table says why.

Run: MAILFERRY=./mailferry python3 tests/test_stats.py   (exit 0 pass, 77 skip, 1 fail)
"""

import csv
import io
import os
import re
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mftest import cli, corpus, fixtures, imapcheck, report, smtpd, term     # noqa: E402

LIMIT = 200 * 1000
RATE = 5 * 1000 * 1000          # forecast_default_rate 18000 MB/h = 5 MB/s


def big_message():
    line = b'A' * 76 + b'\r\n'
    return (b'From: Big Sender <big@example.org>\r\nTo: user001@example.org\r\n'
            b'Subject: Too big for the target\r\nDate: Mon, 3 Mar 2025 10:00:00 +0000\r\n'
            b'Message-ID: <too-big@example.org>\r\n\r\n' + line * 4000)


def seed(c, mf, src):
    st = corpus.bulk(src, 'user001', 30, folders=['INBOX', 'Work', 'Projects'], sizes='small', seed=5)
    corpus.bulk(src, 'user002', 5, folders=['INBOX'], sizes='small', seed=6)
    conn = imapcheck.connect(src, 'user001')
    try:
        imapcheck.append_raw(conn, 'Work', big_message())
    finally:
        imapcheck.logout(conn)
    c.check(st['per_folder'] == {'INBOX': 10, 'Work': 10, 'Projects': 10},
            'user001: 10 messages in each of INBOX, Work, Projects (+1 too big in Work)', st)


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def check_forecast(c, mf):
    db = sqlite3.connect(mf.store)
    sizes = dict(db.execute("SELECT login, size_bytes FROM mailboxes WHERE size_bytes IS NOT NULL"))
    db.close()
    c.check(sizes.get('user001', 0) > LIMIT and sizes.get('user002', 0) > 0,
            'mailbox measure stored both sizes', sizes)
    r = mf.run('schedule', '--workers', '2')
    c.check(r.rc == 0 and 'for 2 jobs; basis: 2 workers, 5.0 MB/s each (default, none measured)' in r.out,
            'schedule: 2 jobs, the basis says 2 workers at the default 5 MB/s', r)
    c.check(re.search(r'^\s+1\s+1\s+user001 \(src>dst\)', r.out, re.M) and
            re.search(r'^\s+2\s+2\s+user002 \(src>dst\)', r.out, re.M), 'in queue order', r)
    c.check(len(re.findall(r'  5\.0 MB/s default  ', r.out)) == 2, 'each job\'s rate and where it comes from', r)
    r = mf.run('schedule', '--workers', '2', '--csv')
    got = rows(r.out)
    c.check(r.rc == 0 and [g['login'] for g in got] == ['user001', 'user002'], 'schedule --csv: a row per job', r)
    for g in got:
        want = round(sizes.get(g['login'], 0) / RATE)
        c.check(int(g['duration_s']) == want and g['basis'] == 'default' and g['size_estimated'] == '0' and
                int(g['size_bytes']) == sizes.get(g['login']),
                '%s: %s bytes at 5 MB/s take %d s' % (g['login'], g['size_bytes'], want), g)
    c.check(len(got) == 2 and got[0]['est_start'] == got[1]['est_start'], 'two workers: both start now', got)
    db = sqlite3.connect(mf.store)
    n = db.execute("SELECT count(*) FROM forecasts WHERE basis='default'").fetchone()[0]
    db.close()
    c.check(n == 2, 'the forecast is recorded for both queued jobs (%d)' % n)
    r = mf.run('schedule', '--workers', '0')
    c.check(r.rc == 64 and '1 to 256' in r.err and fixtures.one_line_error(r), '--workers 0 refused', r)


def check_actual(c, mf):
    r = mf.run('schedule', '--actual', '--csv')
    got = {g['login']: g for g in rows(r.out)}
    c.check(r.rc == 0 and set(got) == {'user001', 'user002'}, 'schedule --actual --csv: both jobs ran', r)
    for login, state in (('user001', 'partial'), ('user002', 'completed')):
        g = got.get(login, {})
        c.check(g.get('state') == state and g.get('started') and g.get('finished') and g.get('est_end') and
                g.get('end_diff_s', '') != '',
                '%s: %s, forecast end beside the real end (%s s off)' % (login, state, g.get('end_diff_s')), g)
    r = mf.run('schedule', '--actual')
    c.check(r.rc == 0 and '2 jobs with a recorded forecast ran, 2 ended' in r.out, 'the table says 2 ran', r)


def check_metrics(c, mf):
    db = sqlite3.connect(mf.store)
    per_min = db.execute("SELECT ts/60*60, sum(items), sum(bytes) FROM samples GROUP BY 1 ORDER BY 1").fetchall()
    eps = dict(db.execute("SELECT id, name FROM endpoints"))
    by_ep = db.execute("SELECT endpoint_id, sum(items), sum(bytes) FROM samples GROUP BY 1").fetchall()
    db.close()
    total = sum(x[1] for x in per_min)
    c.check(total == 35, 'the samples add up to the 35 messages copied (%d)' % total, per_min)
    r = mf.run('metrics', '--period', 'minute', '--csv')
    got = rows(r.out)
    c.check(r.rc == 0 and r.out.startswith('start,end,endpoint,items,bytes,items_per_min,bytes_per_min,'
                                           'mailboxes_completed'), 'metrics --csv: the header', r)
    want = [(x[1], x[2]) for x in per_min]
    c.check([(int(g['items']), int(g['bytes'])) for g in got] == want and all(g['endpoint'] == 'all' for g in got),
            'a row per minute with the samples\' messages and bytes', (got, per_min))
    c.check(sum(int(g['mailboxes_completed']) for g in got) == 2, 'and the 2 mailboxes completed', got)
    c.check(all(g['start'].endswith(':00Z') and float(g['items_per_min']) == float(g['items']) for g in got),
            'minute buckets: ISO times, messages per minute = messages', got)
    r = mf.run('metrics', '--period', 'hour', '--by-endpoint', '--csv')
    got = rows(r.out)
    sums = {}
    for g in got:
        it, by = sums.get(g['endpoint'], (0, 0))
        sums[g['endpoint']] = (it + int(g['items']), by + int(g['bytes']))
    c.check(sums == {eps[e]: (i, b) for e, i, b in by_ep}, 'per endpoint by hour: the samples of each (%s)' % sums,
            got)
    r = mf.run('metrics', '--endpoint', 'src', '--csv', '--period', 'day')
    c.check(r.rc == 0 and len(rows(r.out)) == 0, 'the source endpoint has no samples (the engine samples targets)', r)
    r = mf.run('metrics', '--endpoint', 'nope')
    c.check(r.rc == 78 and "no endpoint named 'nope'" in r.err, 'an unknown endpoint is named', r)
    r = mf.run('metrics', '--period', 'week')
    c.check(r.rc == 64 and 'minute, hour or day' in r.err, 'an unknown period is refused', r)
    r = mf.run('metrics', '--period', 'hour')
    c.check(r.rc == 0 and re.search(r'35 messages, .*2 mailboxes completed', r.out), 'the table\'s total line', r)


def check_report(c, mf, dst, s):
    tree = imapcheck.read_user_tree(dst, 'user001', keep_bodies=False)
    on_target = {name: len(f.messages) for name, f in tree.folders.items() if f.messages}
    r = mf.run('report', '--mailbox', 'user001')
    c.check(r.rc == 0 and 'Mailbox user001 (src) -> user001 (dst), job 1, full pass: partial' in r.out,
            'report --mailbox user001: its job, partial', r)
    folders = {k: int(v) for k, v in re.findall(r'^  (\S.*?)\s{2,}\S.*?\s+(\d+)\s+[\d.]+ \w?B\s+\d+$', r.out,
                                                 re.M)}
    c.check({k: v for k, v in folders.items() if v} == {'INBOX': 10, 'Projects': 10, 'Work': 10} and
            folders.get('Sent Items') == 0, 'messages per folder: 10, 10, 10; the empty ones listed with 0', r.out)
    c.check(sorted(on_target.values()) == [10, 10, 10] and sum(on_target.values()) == 30,
            'the same as the target server holds (%s)' % on_target)
    c.check(re.search(r'^  Work\s+\S+\s+10\s+[\d.]+ KB\s+1$', r.out, re.M),
            'Work: 1 skipped', r.out)
    c.check(re.search(r'Work, UID \d+, 3\d\d\.\d KB, "Too big for the target": .*', r.out),
            'the skipped message with its size, subject and reason', r.out)
    c.check(re.search(r'Verify: 30 of 31 messages of user001 are on the target; 0 missing, 0 extra, 0 differ, '
                      r'1 skipped', r.out), 'the verify verdict (mailferry verify, after the job)', r.out)
    # A migration this small takes under a second: the rate needs a duration.
    c.check(re.search(r'Copied 30 messages, [\d.]+ KB; skipped 1, failed 0; average ([\d.]+ \w?B/min|-)', r.out) and
            re.search(r'Started \d{4}-\d\d-\d\d \d\d:\d\d, finished \d{4}-\d\d-\d\d \d\d:\d\d, took \d+', r.out),
            'counts, duration and average rate', r.out)
    r = mf.run('report')
    c.check(r.rc == 0 and 'Mailboxes: 2 (completed 1, partial 1)' in r.out and
            re.search(r'Copied: 35 messages, [\d.]+ KB; skipped 1, failed 0', r.out) and
            'Mailbox user002 (src)' in r.out, 'report: project totals and both mailboxes', r)
    r = mf.run('report', '--job', '2')
    c.check(r.rc == 0 and 'Mailboxes: 1 (completed 1)' in r.out and 'user001' not in r.out, 'report --job 2', r)
    for args, code, words in ((('--job', '99'), 78, 'no job 99'), (('--mailbox', 'nobody'), 78, "'nobody'"),
                              (('--job', '1', '--all'), 64, 'one of'), (('--email', 'not-an-address'), 64, 'address')):
        r = mf.run('report', *args)
        c.check(r.rc == code and words in r.err and fixtures.one_line_error(r), 'report %s: exit %d' % (
            ' '.join(args), code), r)
    before = len(s.messages())
    r = mf.run('report', '--email', 'boss@example.org')
    msgs = s.wait(before + 1)
    m = [x for x in msgs if str(x['Subject']).startswith('Migration statistics: 2 mailboxes')]
    c.check(r.rc == 0 and 'report on 2 mailboxes sent to boss@example.org' in r.out and '250' in r.out,
            'report --email: sent, with the server\'s answer', r)
    body = m[0].get_content() if m else ''
    c.check(m and m[0]['X-Envelope-To'] == 'boss@example.org' and 'Mailbox user001 (src)' in body and
            'Too big for the target' in body, 'the SMTP server received the report for boss@example.org',
            body or [str(x['Subject']) for x in msgs])


def check_console(c, mf, s):
    path = os.path.join(mf.dir, 'exported.csv')
    with term.Term(mf, 'console --no-engine', 120, 30) as t:
        ok, text = t.wait(lambda x: 'Mailbox Jobs' in x and 'user002' in x, 20)
        c.check(ok, 'the console starts', text)
        t.keys('7')
        ok, text = t.wait(lambda x: 'Per min over the last 180 minutes, all endpoints: 35 messages' in x, 15)
        c.check(ok, 'Metrics: 35 messages, all endpoints', text)
        t.keys('x')
        ok, text = t.wait(lambda x: 'Export to CSV file: mailferry-metrics-minute.csv' in x, 10)
        c.check(ok, 'x asks for the file, offering a name', text)
        t.keys('C-u')
        t.type(path)
        t.keys('Enter')
        ok, text = t.wait(lambda x: 'rows exported to %s' % path in x.replace('\n', ''), 10)
        c.check(ok, 'the status line says where the rows went', text)
        t.keys('f')
        ok, text = t.wait(lambda x: 'all endpoints' not in x and 'target src: 0 messages' in x, 10)
        c.check(ok, 'f: the source endpoint alone has nothing', text)
        t.keys('f')
        ok, text = t.wait(lambda x: 'target dst: 35 messages' in x, 10)
        c.check(ok, 'f again: the target dst has the 35 messages', text)
        t.keys('3')
        ok, text = t.wait(lambda x: 'user001' in x and 'partial' in x, 10)
        t.keys('Home', 'Enter')
        ok, text = t.wait(lambda x: re.search(r'Forecast start / end\s+[\d-]+ \d\d:\d\d / [\d-]+ \d\d:\d\d '
                                              r'\(forecast of .*; ended \S+ (later|earlier)\)', x) is not None, 15)
        c.check(ok, 'the job\'s detail shows the forecast it started under and how its end compared', text)
        t.keys('Escape', 'R')
        ok, text = t.wait(lambda x: 'Mailbox user001 (src) -> user001 (dst), job 1' in x and
                          re.search(r'Work\s+\S+\s+10\s+', x) is not None, 15)
        c.check(ok, 'R in Mailbox Jobs opens the Report of the job under the cursor, with its folders', text)
        t.keys('Escape', '5', 'R')
        ok, text = t.wait(lambda x: 'Mailboxes: 2 (completed 1, partial 1)' in x, 15)
        c.check(ok, 'R in the Summary opens the project report', text)
        before = len(s.messages())
        t.keys('m')
        ok, text = t.wait(lambda x: 'E-mail the report to:' in x, 10)
        c.check(ok, 'm asks where to send the report', text)
        t.keys('C-u')
        t.type('desk@example.org')
        t.keys('Enter')
        ok, text = t.wait(lambda x: 'report sent to desk@example.org; the server said: 250' in x.replace('\n', ''), 20)
        c.check(ok, 'sent in the background; the status line gives the server\'s answer', text)
        msgs = s.wait(before + 1)
        m = [x for x in msgs if x['X-Envelope-To'] == 'desk@example.org']
        c.check(m and str(m[0]['Subject']).startswith('Migration statistics: 2 mailboxes') and
                'Mailbox user002 (src)' in m[0].get_content(), 'the SMTP server received it',
                [str(x['Subject']) for x in msgs])
    r = mf.run('metrics', '--period', 'minute', '--last', '180', '--csv')
    try:
        with open(path) as f:
            exported = f.read()
    except OSError as ex:
        exported = str(ex)
    c.check(exported == r.out and len(rows(exported)) > 0, 'the exported file equals metrics --csv', exported)


def check_blackout_forecast(c, mf):
    """Queued again after the run: a window holding user002 for the next two
    hours (in New York time) moves its forecast start to the window's end."""
    r = mf.run('queue', 'src', 'dst', 'user001', 'user002')
    c.check(r.rc == 0, 'both mailboxes queued again', r)
    now = time.time()
    r = mf.run('blackout', 'add', 'hold-user002', '--mailbox', 'user002', '--tz', 'America/New_York',
               '--start', time_in_zone(now - 120, 'America/New_York'),
               '--end', time_in_zone(now + 7200, 'America/New_York'))
    c.check(r.rc == 0, 'a blackout for user002 from 2 minutes ago to 2 hours ahead (New York time)', r)
    r = mf.run('schedule', '--csv', '--workers', '2')
    got = {g['login']: g for g in rows(r.out)}
    a, b = got.get('user001', {}), got.get('user002', {})
    end = int(now + 7200) // 60 * 60
    c.check(a.get('blackout') == '' and b.get('blackout') == 'hold-user002' and
            b.get('est_start') == b.get('blackout_until') and b.get('est_start', '') > a.get('est_start', 'z'),
            'user002 starts when its window ends; user001 is not held', r.out)
    c.check(b.get('est_start') == time.strftime('%Y-%m-%dT%H:%M:00Z', time.gmtime(end)),
            'the window ends at the minute given in New York time (%s)' % b.get('est_start'), r.out)
    r = mf.run('schedule', '--workers', '2')
    c.check(re.search(r'user002 \(src>dst\).*blackout hold-user002 until', r.out), 'the table says why', r.out)


def time_in_zone(t, zone):
    old = os.environ.get('TZ')
    os.environ['TZ'] = zone
    time.tzset()
    try:
        return time.strftime('%Y-%m-%d %H:%M', time.localtime(t))
    finally:
        if old is None:
            del os.environ['TZ']
        else:
            os.environ['TZ'] = old
        time.tzset()


def main(c):
    cli.require_binary()
    smtpd.require()
    fixtures.require()
    mf = cli.Mailferry()
    try:
        with smtpd.Smtpd() as s, fixtures.pair(size_limit=LIMIT, checks=c) as (src, dst):
            smtpd.configure(c, mf, s)
            seed(c, mf, src)
            mf.endpoint_add('src', src)
            mf.endpoint_add('dst', dst)
            users = os.path.join(mf.dir, 'users.csv')
            with open(users, 'w') as f:
                f.write('login,address\nuser001,user001@example.org\nuser002,user002@example.org\n')
            r = mf.run('mailbox', 'import', users, '--endpoint', 'src')
            c.check(r.rc == 0, 'mailboxes imported', r)
            r = mf.run('mailbox', 'measure', '--endpoint', 'src', 'user001', 'user002', timeout=120)
            c.check(r.rc == 0, 'mailbox measure sizes both mailboxes', r)
            r = mf.run('queue', 'src', 'dst', 'user001', 'user002')
            c.check(r.rc == 0, 'two jobs queued', r)
            check_forecast(c, mf)
            r = mf.run('run', '--workers', '2', timeout=300)
            c.check(r.rc == 1, 'run: exit 1 (one item skipped)', r)
            r = mf.run('verify', 'src', 'dst', 'user001', timeout=120)
            c.check(r.rc == 0 and 'of user001 are on the target' in r.out, 'verify user001: its verdict', r)
            check_actual(c, mf)
            check_metrics(c, mf)
            check_report(c, mf, dst, s)
            if term.TMUX:
                check_console(c, mf, s)
            else:
                c.info('tmux is not installed: the console part is left out')
            check_blackout_forecast(c, mf)
    finally:
        mf.cleanup()


if __name__ == '__main__':
    report.main(main, 'test_stats')
