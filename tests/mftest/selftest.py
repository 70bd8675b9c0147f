"""Self-test of the mftest harness (no mailferry binary needed; not run by make check).

    PYTHONPATH=tests /usr/bin/python3 -m mftest.selftest [--quick] [--no-mbsync]

Starts two Dovecots (source LAYOUT=fs '/', target maildir++ '.' with a size
limit), fills the corpus, reads it back, checks master-user logins both ways,
the size limit (enforced and advertised), TLS, listescape, the tree comparison
(with a reference copy done in Python and deliberate damage), the bulk filler,
the proxy (delay and faults), the CLI runner (with a fake binary) and mbsync.
"""

import argparse
import collections
import imaplib
import os
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import time

if __package__ in (None, ''):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = 'mftest'

from mftest import imapcheck, corpus, proxy, cli, mbsync, report          # noqa: E402
from mftest.dovecot import Dovecot, SOURCE_SPECIAL, TARGET_SPECIAL, have_dovecot  # noqa: E402

LIMIT = 32 * 1024 * 1024


class Via:
    """Endpoint-like object pointing at a proxy in front of a Dovecot."""

    def __init__(self, d, port):
        self.host = '127.0.0.1'
        self.port = port
        self.admin = d.admin
        self.admin_password = d.admin_password
        self.users = d.users


def reference_copy(src, src_user, dst, dst_user, src_tree, dst_tree_before, skip=()):
    """Copies src_tree into dst with append_raw, following default_folder_map:
    a reference implementation of what mailferry must produce."""
    mapping = imapcheck.default_folder_map(src_tree, dst_tree_before)
    conn = imapcheck.connect(dst, dst_user)
    try:
        for name, f in src_tree.folders.items():
            if not f.selectable:
                continue
            t = mapping[name]
            if t not in dst_tree_before.folders:
                imapcheck.create_folder(conn, t)
            for m in f.messages:
                if m.sha in skip:
                    continue
                imapcheck.append_raw(conn, t, m.raw, sorted(m.flags), m.internaldate)
    finally:
        imapcheck.logout(conn)
    return mapping


def test_mutf7(c):
    cases = {'Réunions': 'R&AOk-unions', '日本語': '&ZeVnLIqe-', 'Folder & Co': 'Folder &- Co',
             '~peter/mail/台北/日本語': '~peter/mail/&U,BTFw-/&ZeVnLIqe-',
             '😀': '&2D3eAA-', 'plain': 'plain'}
    ok = all(imapcheck.mutf7_encode(k) == v and imapcheck.mutf7_decode(v) == k
             for k, v in cases.items())
    c.check(ok, 'modified UTF-7 encode/decode (RFC 3501 example, surrogates, &-)')
    bad = 0
    for s in ('&Jjo', '&Jjo!-'):
        try:
            imapcheck.mutf7_decode(s)
        except ValueError:
            bad += 1
    c.check(bad == 2, 'modified UTF-7 decoder rejects malformed input')
    e = imapcheck.parse_internaldate(' 1-Jan-2001 10:00:00 +0100')
    c.check(e == 978339600 and imapcheck.fmt_internaldate(e) == '01-Jan-2001 09:00:00 +0000',
            'INTERNALDATE parse/format')


def test_logins(c, d):
    u = 'user005'
    marker = ('Subject: login marker %s\r\n\r\nx\r\n' % d.name).encode()
    for how in ('plain', 'login'):
        conn = imapcheck.connect(d, u, how=how)
        uid = imapcheck.append_raw(conn, 'INBOX', marker + how.encode())
        imapcheck.logout(conn)
        c.check(uid is not None, '%s: master login (%s) as %s, APPENDUID %s' % (
            d.name, 'SASL PLAIN authzid' if how == 'plain' else 'LOGIN user*admin', u, uid))
    conn = imapcheck.connect(d, u, how='user')
    tree = imapcheck.read_tree(conn)
    imapcheck.logout(conn)
    subs = sorted(m.subject for m in tree.folders['INBOX'].messages)
    c.check(len(subs) == 2 and all('login marker' in s for s in subs),
            '%s: both master logins acted on the user\'s own mailbox' % d.name, subs)
    conn = imapcheck.connect(d, None)
    imapcheck.logout(conn)
    c.check(True, '%s: admin logs in as itself (no authzid)' % d.name)
    for how in ('plain', 'login'):
        class Wrong:
            host, port, admin, admin_password, users = d.host, d.port, d.admin, 'wrong', d.users
        try:
            imapcheck.connect(Wrong, u, how=how)
            ok = False
        except imaplib.IMAP4.error:
            ok = True
        c.check(ok, '%s: wrong master password refused (%s)' % (d.name, how))


def test_size_limit(c, d):
    conn = imapcheck.connect(d, 'user006')
    lim = imapcheck.appendlimit(conn)
    c.check(lim == d.max_mail_size, '%s: CAPABILITY advertises APPENDLIMIT=%s' % (d.name, lim))
    pre = imaplib.IMAP4(d.host, d.port)
    precaps = pre.capabilities
    pre.shutdown()
    c.check(any(x.startswith('APPENDLIMIT=') for x in precaps),
            '%s: pre-login capability also has APPENDLIMIT' % d.name)
    head = b'Subject: size test\r\n\r\n'
    ok_msg = head + b'x' * (d.max_mail_size - len(head))
    typ1, _ = imapcheck.try_append(conn, 'INBOX', ok_msg)
    typ2, text2 = imapcheck.try_append(conn, 'INBOX', ok_msg + b'y')
    imapcheck.logout(conn)
    c.check(typ1 == 'OK', '%s: APPEND of exactly the limit (%d bytes) accepted' % (d.name, len(ok_msg)))
    c.check(typ2 == 'NO' and '[LIMIT]' in text2,
            '%s: APPEND of limit+1 refused with NO [LIMIT]' % d.name, text2)


def test_tls(c, d):
    pre = imaplib.IMAP4(d.host, d.port)
    caps = pre.capabilities
    pre.shutdown()
    c.check('STARTTLS' in caps, '%s: STARTTLS offered on the imap port when imaps=True' % d.name)
    try:
        imaplib.IMAP4_SSL(d.host, d.imaps_port, ssl_context=ssl.create_default_context(),
                          timeout=10)
        verified = True
    except ssl.SSLCertVerificationError:
        verified = False
    c.check(not verified, '%s: imaps certificate is self-signed (verification fails)' % d.name)
    conn = imapcheck.connect(d, 'user001', tls=True)
    imapcheck.logout(conn)
    c.check(True, '%s: imaps login without verification works' % d.name)


def test_listescape(c):
    with Dovecot(name='le1', layout='maildir++', separator='/', listescape=True, users=1) as d1, \
            Dovecot(name='le2', layout='maildir++', listescape=True, users=1) as d2:
        conn = imapcheck.connect(d1, 'user001')
        imapcheck.create_folder(conn, 'v1.2')
        names = [f[0] for f in imapcheck.list_folders(conn)]
        imapcheck.logout(conn)
        c.check('v1.2' in names, 'listescape: maildir++ storage with separator "/" holds "v1.2"')
        conn = imapcheck.connect(d2, 'user001')
        imapcheck.create_folder(conn, 'a/b')
        names = [f[0] for f in imapcheck.list_folders(conn)]
        imapcheck.logout(conn)
        c.check('a/b' in names, 'listescape: maildir++ with separator "." holds "a/b"')


def test_proxy(c, dst):
    with proxy.Proxy(('127.0.0.1', dst.port), delay_ms=10) as p:
        conn = imapcheck.connect(Via(dst, p.port), 'user009')
        t0 = time.monotonic()
        for _ in range(10):
            conn.noop()
        rtt = (time.monotonic() - t0) / 10 * 1000
        imapcheck.logout(conn)
    c.check(19 <= rtt <= 40, 'proxy delay_ms=10: NOOP round trip %.1f ms (~20 expected)' % rtt)
    with proxy.Proxy(('127.0.0.1', dst.port),
                     faults=[proxy.Fault(pattern=b'APPEND', count=2, extra_bytes=300, times=2)]) as p:
        results = []
        for k in range(3):
            conn = imapcheck.connect(Via(dst, p.port), 'user009')
            n = 0
            try:
                for i in range(4):
                    imapcheck.append_raw(conn, 'INBOX', b'Subject: p\r\n\r\n' + b'z' * 4000)
                    n += 1
                imapcheck.logout(conn)
                results.append(('ok', n))
            except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
                results.append(('reset', n))
        st = p.stats()
    c.check(results == [('reset', 1), ('reset', 1), ('ok', 4)] and st['drops'] == 2,
            'proxy drops the connection mid-APPEND (2nd APPEND, twice), then passes',
            (results, st))
    with proxy.Proxy(('127.0.0.1', dst.port), faults=[proxy.Fault(conn=2, after_bytes=50)]) as p:
        res = []
        for k in range(3):
            try:
                conn = imapcheck.connect(Via(dst, p.port), 'user009')
                conn.noop()
                imapcheck.logout(conn)
                res.append('ok')
            except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
                res.append('reset')
    c.check(res == ['ok', 'reset', 'ok'], 'proxy drops connection #2 after 50 bytes', res)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    pr = subprocess.Popen([sys.executable, '-m', 'mftest.proxy', '--listen', '0', '--target',
                           '127.0.0.1:%d' % dst.port, '--delay-ms', '5'],
                          stdout=subprocess.PIPE, env=env, text=True)
    try:
        port = int(pr.stdout.readline())
        conn = imapcheck.connect(Via(dst, port), 'user009')
        conn.noop()
        imapcheck.logout(conn)
        ok = True
    except Exception as e:
        ok = e
    finally:
        pr.terminate()
        rc = pr.wait(10)
    c.check(ok is True and rc == 0, 'proxy as a script (python3 -m mftest.proxy) works', ok)


def test_cli_runner(c):
    tmp = tempfile.mkdtemp(prefix='mftest-fake-')
    fake = os.path.join(tmp, 'fake-mailferry')
    with open(fake, 'w') as f:
        f.write('#!/bin/sh\necho "args: $*"\necho "err line" >&2\n'
                'case "$*" in *sleep*) sleep 30;; esac\nexit 3\n')
    os.chmod(fake, 0o755)
    mf = cli.Mailferry(binary=fake)
    try:
        r = mf.run('endpoint', 'list')
        c.check(r.rc == 3 and '-s %s' % mf.store in r.out and 'err line' in r.err,
                'cli.Mailferry.run passes -c/-s and captures exit code, stdout, stderr', r)
        killed, r = mf.kill_after(0.3, 'sleep')
        c.check(killed and r.rc == -9, 'cli.Mailferry.kill_after kill -9s a running process', r)
        pw = mf.write_password_file('x', 'secret')
        c.check(os.stat(pw).st_mode & 0o777 == 0o600, 'password file written with mode 0600')
    finally:
        mf.cleanup()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


def test_mbsync(c, src, dst, bulk_user, corpus_user):
    if not mbsync.have_mbsync():
        c.info('mbsync not installed: skipped')
        return
    rc, out, err, secs = mbsync.sync(src, dst, bulk_user)
    st = imapcheck.read_user_tree(src, bulk_user)
    dt = imapcheck.read_user_tree(dst, bulk_user)
    # mbsync adds X-TUID: compare without it
    def strip_tuid(raw):
        return b''.join(l for l in raw.splitlines(True) if not l.startswith(b'X-TUID: '))
    ok = rc == 0
    problems = []
    for name, f in st.folders.items():
        if not f.messages:
            continue
        tname = name.replace(st.sep, dt.sep)
        tf = dt.folders.get(tname)
        if tf is None:
            problems.append('missing folder %s' % tname)
            continue
        want = collections.Counter((m.raw, m.epoch) for m in f.messages)
        have = collections.Counter((strip_tuid(m.raw), m.epoch) for m in tf.messages)
        if want != have:
            problems.append('%s: %d vs %d' % (name, sum(want.values()), sum(have.values())))
    tuid = sum(1 for m in dt.messages() if b'\nX-TUID: ' in b'\n' + m.raw)
    c.check(ok and not problems,
            'mbsync synced %d messages of %s in %.2fs (CopyArrivalDate kept dates)' % (
                st.count(), bulk_user, secs), (rc, err[-2000:], problems))
    c.info('mbsync added X-TUID to %d of %d messages (not byte-identical)' % (tuid, dt.count()))
    rc, out, err, secs = mbsync.sync(src, dst, corpus_user, 'user012')
    dt = imapcheck.read_user_tree(dst, 'user012')
    c.info('mbsync on the corpus (%s -> user012): exit %d, %d of %d messages, %.2fs; %s' % (
        corpus_user, rc, dt.count(), imapcheck.read_user_tree(src, corpus_user).count(), secs,
        ' | '.join(err.strip().splitlines()[-3:])))


def test_nonroot(c):
    """Starts a Dovecot as an unprivileged user (the non-root path of dovecot.py)."""
    if os.geteuid() != 0:
        c.info('not root: the non-root path is what every other check used')
        return
    runuser = '/usr/sbin/runuser' if os.path.exists('/usr/sbin/runuser') else None
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not runuser or not os.access(here, os.R_OK | os.X_OK):
        c.info('cannot check the non-root path here')
        return
    code = ('import sys; sys.path.insert(0, %r)\n'
            'from mftest.dovecot import Dovecot\nfrom mftest import imapcheck\n'
            'with Dovecot(name="nonroot", users=2) as d:\n'
            '    conn = imapcheck.connect(d, "user001")\n'
            '    imapcheck.append_raw(conn, "INBOX", b"Subject: x\\r\\n\\r\\ny\\r\\n")\n'
            '    t = imapcheck.read_tree(conn)\n'
            '    print("OK", t.count(), d.startup_seconds)\n' % here)
    try:
        p = subprocess.run([runuser, '-u', 'nobody', '--', sys.executable, '-c', code],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                           cwd='/', env=dict(os.environ, HOME='/tmp', TMPDIR='/tmp'))
        out = p.stdout.decode('utf-8', 'replace')
    except Exception as e:
        out = str(e)
    # '/work' may not be traversable for nobody: only report then
    if 'Permission denied' in out and 'mftest' in out:
        c.info('non-root check not possible (source tree not readable by nobody)')
        return
    c.check(out.startswith('OK 1'), 'Dovecot runs as a non-root user (nobody) too', out[-3000:])


def main(c):
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true', help='no 30 MiB message, no mbsync')
    ap.add_argument('--no-mbsync', action='store_true')
    args = ap.parse_args()
    if not have_dovecot():
        raise report.Skip('dovecot not installed')
    test_mutf7(c)
    with Dovecot(name='src', layout='fs', special=SOURCE_SPECIAL, imaps=True) as src, \
            Dovecot(name='dst', layout='maildir++', special=TARGET_SPECIAL,
                    max_mail_size=LIMIT) as dst:
        c.check(src.startup_seconds < 1.0 and dst.startup_seconds < 1.0,
                'startup times: src %.3fs (with TLS), dst %.3fs' % (src.startup_seconds,
                                                                   dst.startup_seconds))
        c.info(src.describe())
        c.info(dst.describe())
        t0 = time.monotonic()
        d3 = Dovecot(name='timing', users=1)
        d3.start()
        d3.stop()
        c.info('start+stop of a plain instance: %.3fs' % (time.monotonic() - t0))
        for d in (src, dst):
            test_logins(c, d)
        test_size_limit(c, dst)
        test_tls(c, src)

        # corpus
        big = not args.quick
        man = corpus.fill(src, 'user001', seed=1, target_sep=dst.separator, big=big,
                          size_limit=LIMIT)
        c.info('corpus: %s, filled in %.2fs; notes %s' % (man.summary(), man.fill_seconds,
                                                        man.notes))
        c.check(man.sep_folder == 'v1.2', 'corpus holds a folder with the target separator: %r'
                % man.sep_folder)
        t0 = time.monotonic()
        stree = imapcheck.read_user_tree(src, 'user001')
        c.info('read back %d messages (%.1f MB) in %.2fs' % (stree.count(), stree.size() / 1e6,
                                                           time.monotonic() - t0))
        probs = corpus.check_manifest(stree, man)
        c.check(not probs, 'source tree matches the manifest exactly (bytes, flags, dates)',
                '\n'.join(probs))
        c.check(stree.special('\\Sent') == 'Sent Items' and stree.sep == '/',
                'source special-use \\Sent is "Sent Items", separator "/"')
        names = set(stree.folders)
        want = {'Quote "this"', 'Réunions/2024', '日本語', 'Folder & Co', 'a/b/c', 'v1.2',
                'Empty Folder'}
        c.check(want <= names, 'odd folder names decoded from modified UTF-7', sorted(names))
        bare = [m for m in stree.folders['INBOX'].messages if m.subject == 'Bare LF line endings']
        c.check(bare and b'\n' not in bare[0].raw.replace(b'\r\n', b''),
                'Dovecot serves the bare-LF message with CRLF (manifest expects that)')
        twins = [m for m in stree.folders['INBOX'].messages if m.subject == 'Byte-identical triplet']
        c.check(len(twins) == 3 and len({m.sha for m in twins}) == 1,
                'three byte-identical copies in INBOX')
        c.check(len(man.oversize) == 1 and man.oversize[0][1].size > LIMIT,
                'oversize message (%d bytes) in %r' % (man.oversize[0][1].size, man.oversize[0][0]))
        if big:
            bigm = [m for m in stree.messages() if m.subject == 'Big 30 MiB attachment']
            c.check(bigm and bigm[0].size >= corpus.BIG_SIZE, '30 MiB message present (%d bytes)'
                    % (bigm[0].size if bigm else 0))

        # comparison against a reference copy done in Python
        dtree0 = imapcheck.read_user_tree(dst, 'user001')
        c.check(dtree0.special('\\Sent') == 'Sent' and dtree0.sep == '.',
                'target special-use \\Sent is "Sent", separator "."')
        t0 = time.monotonic()
        mapping = reference_copy(src, 'user001', dst, 'user001', stree, dtree0,
                                 skip=man.oversize_shas())
        c.info('reference copy in Python took %.2fs' % (time.monotonic() - t0))
        c.check(mapping['Sent Items'] == 'Sent' and mapping['Deleted Items'] == 'Trash'
                and mapping['v1.2'] == 'v1_2' and mapping['a/b/c'] == 'a.b.c'
                and mapping['Réunions/2024'] == 'Réunions.2024',
                'default folder map: special-use, separator "_" rule, hierarchy', mapping)
        dtree = imapcheck.read_user_tree(dst, 'user001')
        diff = imapcheck.compare(stree, dtree, ignore=man.oversize_shas())
        c.check(diff.ok, 'compare(): reference copy is identical (%s)' % diff.verdict(),
                diff.report())
        diff2 = imapcheck.compare(stree, dtree)
        c.check(not diff2.ok and diff2.missing == 1 and diff2.extra == 0,
                'compare(): the skipped oversize message shows as 1 missing when not ignored',
                diff2.report())
        # damage the target: remove one, duplicate one, change flags of one
        conn = imapcheck.connect(dst, 'user001')
        inbox = dtree.folders['INBOX'].messages
        victim = [m for m in inbox if m.subject == 'No Message-ID here'][0]
        dup = [m for m in inbox if m.subject == 'Bare LF line endings'][0]
        reflag = [m for m in inbox if m.subject == 'Regular message 0'][0]
        conn.select('INBOX')
        conn.uid('STORE', str(victim.uid), '+FLAGS.SILENT', '(\\Deleted)')
        conn.uid('EXPUNGE', str(victim.uid))     # UIDPLUS: only this one (the corpus has \Deleted ones)
        conn.unselect()                          # not CLOSE: it would expunge every \Deleted
        imapcheck.append_raw(conn, 'INBOX', dup.raw, sorted(dup.flags), dup.internaldate)
        imapcheck.store_flags(conn, 'INBOX', reflag.uid, '+FLAGS', ['$Label9'])
        # a twin gets a second extra copy
        twin = [m for m in inbox if m.subject == 'Byte-identical triplet'][0]
        imapcheck.append_raw(conn, 'INBOX', twin.raw, sorted(twin.flags), twin.internaldate)
        imapcheck.logout(conn)
        dtree = imapcheck.read_user_tree(dst, 'user001')
        diff = imapcheck.compare(stree, dtree, ignore=man.oversize_shas())
        c.check(diff.missing == 1 and diff.duplicates == 2 and diff.differ == 1
                and diff.extra == 0 and not diff.ok,
                'compare(): damage found: 1 missing, 2 duplicated, 1 differ (%s)' % diff.verdict(),
                diff.report())
        c.info('diff report example:\n' + diff.report())
        # mapping a folder wrongly is seen as missing folder
        diff = imapcheck.compare(stree, dtree, mapping=lambda n: 'Nowhere' if n == 'a' else
                                 imapcheck.default_folder_map(stree, dtree)[n],
                                 ignore=man.oversize_shas())
        c.check(('a', 'Nowhere') in diff.missing_folders, 'compare(): missing target folder reported')

        # bulk
        st = corpus.bulk(src, 'user002', 3000, folders=['bulk/f1', 'bulk/f2', 'bulk/f3', 'INBOX'],
                         sizes='small', seed=2)
        c.check(st['messages'] == 3000, 'bulk: 3000 small messages (%.1f MB) in %.2fs' % (
            st['bytes'] / 1e6, st['seconds']))
        bt = imapcheck.read_user_tree(src, 'user002', keep_bodies=False)
        c.check(bt.count() == 3000 and len(bt.folders['bulk/f1'].messages) == 750,
                'bulk: counts read back (%s)' % bt.summary())
        st = corpus.bulk(src, 'user003', 400, folders=['r1', 'r2'], sizes='realistic', seed=3)
        c.info('bulk realistic: 400 messages, %.1f MB in %.2fs' % (st['bytes'] / 1e6, st['seconds']))
        d1 = list(corpus.bulk_messages(20, seed=5))
        d2 = list(corpus.bulk_messages(20, seed=5))
        c.check(d1 == d2, 'bulk generator is deterministic for a seed')
        m1, _, _, _ = corpus.corpus_messages(seed=7, big=False)
        m2, _, _, _ = corpus.corpus_messages(seed=7, big=False)
        c.check([m.raw for _, m in m1] == [m.raw for _, m in m2], 'corpus is deterministic for a seed')

        test_proxy(c, dst)
        if not (args.quick or args.no_mbsync):
            test_mbsync(c, src, dst, 'user002', 'user001')
    test_listescape(c)
    test_cli_runner(c)
    test_nonroot(c)


if __name__ == '__main__':
    report.main(main, 'selftest')
