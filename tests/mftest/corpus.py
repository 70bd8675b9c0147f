"""Deterministic test corpus (seeded) and a bulk generator for benchmarks.

    manifest = fill(src, 'user001', seed=1, target_sep='.', size_limit=dst.max_mail_size)
    manifest.total()                      # messages put on the source
    manifest.folders['a/b']               # [Msg, ...] in APPEND order
    manifest.oversize                     # [(folder, Msg)] larger than size_limit
    check_manifest(tree, manifest)        # [] when the tree holds exactly the manifest

    stats = bulk(src, 'user002', 3000, folders=['bulk/f1', 'bulk/f2'], sizes='small')

What the corpus holds (folder names use the server's separator S):
  INBOX            regular text and multipart/alternative messages; a message
                   without Message-ID; two messages sharing one Message-ID with
                   different bodies; a bare-LF message; raw UTF-8 (8-bit) Subject;
                   every system flag plus keywords ($Label1, Work, $Forwarded);
                   a header-only message without a blank line and without a final
                   CRLF; a malformed one whose "body" follows the headers without a
                   blank line; three byte-identical copies (two also with the same
                   flags and date, one with other flags)
  a, a/b, a/b/c    nested folders (the oversize message goes into "a")
  Quote "this"     folder name with a double quote
  Réunions/2024    non-ASCII (modified UTF-7 on the wire), nested
  日本語            non-Latin name
  Folder & Co      '&' (encoded "&-" in modified UTF-7)
  v1<T>2           contains the TARGET's separator T (only when T differs from S
                   and the server accepts it; see manifest.notes)
  Empty Folder     no messages at all
  special-use      the server's \\Sent, \\Drafts, \\Trash, \\Junk, \\Archive folders
                   (found through LIST), a few messages each; with big=True the
                   \\Archive folder gets a ~30 MiB message with a random base64
                   attachment
INTERNALDATEs are between 2001 and 2020 with various time zones; each Date:
header is a few minutes before its INTERNALDATE.

Dovecot serves every message with CRLF line ends: Msg.expected is what a FETCH
returns (bare LF turned into CRLF), Msg.raw what was appended.
"""

import base64
import collections
import hashlib
import random
from datetime import datetime, timezone, timedelta

from . import imapcheck

WORDS = ('time person year way day thing man world life hand part child eye woman place '
         'work week case point government company number group problem fact be have do '
         'say get make go know take see come think look want give use find tell ask seem '
         'feel try leave call good new first last long great little own other old right '
         'big high different small large next early young important few public bad same '
         'able to of in for on with at by from up about into over after beneath under '
         'report budget meeting quarter review schedule invoice project release draft '
         'server mailbox folder message network backup contract offer summary minutes '
         'agenda travel lunch coffee deadline update question answer thanks regards').split()

TZ_OFFSETS = [-480, -300, -210, 0, 60, 120, 330, 540, 600, 765, -600, 180]

SPECIAL_USES = ('\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive')

BIG_SIZE = 30 * 1024 * 1024


def crlf(raw):
    """Bare LF -> CRLF (what Dovecot returns for a stored message)."""
    out = raw.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    return out


class Msg:
    __slots__ = ('raw', 'flags', 'internaldate', 'epoch', 'subject', 'label', 'expected',
                 'sha', 'size')

    def __init__(self, raw, flags, internaldate, subject, label=''):
        self.raw = raw
        self.flags = tuple(flags)
        self.internaldate = internaldate
        self.epoch = imapcheck.parse_internaldate(internaldate)
        self.subject = subject
        self.label = label
        self.expected = crlf(raw)
        self.sha = hashlib.sha256(self.expected).hexdigest()
        self.size = len(self.expected)

    def key(self):
        return (self.sha, tuple(sorted(self.flags)), self.epoch)

    def __repr__(self):
        return '<Msg %s %r %d bytes %s>' % (self.label, self.subject[:40], self.size,
                                            ' '.join(self.flags))


class Manifest:
    def __init__(self, user, sep, target_sep):
        self.user = user
        self.sep = sep
        self.target_sep = target_sep
        self.folders = collections.OrderedDict()
        self.special = {}           # '\\Sent' -> source folder name
        self.oversize = []          # (folder, Msg)
        self.sep_folder = None      # name of the folder containing target_sep, if any
        self.notes = []
        self.fill_seconds = None

    def add(self, folder, msg):
        self.folders.setdefault(folder, []).append(msg)

    def total(self):
        return sum(len(v) for v in self.folders.values())

    def total_bytes(self):
        return sum(m.size for v in self.folders.values() for m in v)

    def all(self):
        for f, msgs in self.folders.items():
            for m in msgs:
                yield f, m

    def counts(self):
        return {f: len(v) for f, v in self.folders.items()}

    def oversize_shas(self):
        return {m.sha for _, m in self.oversize}

    def summary(self):
        return '%d messages, %.1f MB in %d folders' % (
            self.total(), self.total_bytes() / 1e6, len(self.folders))


# ------------------------------------------------------------------ message builders


class Gen:
    """Seeded message material.  Paragraphs are pre-generated once for speed."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.paras = [self._para() for _ in range(300)]
        self.n = 0

    def _para(self):
        rng = self.rng
        words = [rng.choice(WORDS) for _ in range(rng.randint(20, 90))]
        words[0] = words[0].capitalize()
        lines = []
        line = []
        for w in words:
            line.append(w)
            if sum(len(x) + 1 for x in line) > 66:
                lines.append(' '.join(line))
                line = []
        if line:
            lines.append(' '.join(line))
        return '\r\n'.join(lines) + '.'

    def text(self, nbytes):
        out = []
        size = 0
        while size < nbytes:
            p = self.rng.choice(self.paras)
            out.append(p)
            size += len(p) + 4
        return '\r\n\r\n'.join(out)

    def date(self, year_from=2001, year_to=2020):
        rng = self.rng
        y = rng.randint(year_from, year_to)
        tz = timezone(timedelta(minutes=rng.choice(TZ_OFFSETS)))
        base = datetime(y, 1, 1, tzinfo=tz) + timedelta(seconds=rng.randint(0, 364 * 86400))
        return base

    def mid(self):
        self.n += 1
        return '<%016x.%d@corpus.mailferry.test>' % (self.rng.getrandbits(64), self.n)

    def addr(self):
        names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi']
        n = self.rng.choice(names)
        return '%s <%s@example.test>' % (n.capitalize(), n)


def rfc5322_date(dt):
    days = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
    off = int(dt.utcoffset().total_seconds() // 60)
    sign = '+' if off >= 0 else '-'
    off = abs(off)
    return '%s, %d %s %04d %02d:%02d:%02d %s%02d%02d' % (
        days[dt.weekday()], dt.day, imapcheck._MONTHS[dt.month - 1], dt.year,
        dt.hour, dt.minute, dt.second, sign, off // 60, off % 60)


def build(gen, subject, date, body_bytes=2000, kind='text', mid=True, attach=0,
          extra_headers=(), eol=b'\r\n', subject_raw=None, message_id=None):
    """One RFC 5322 message as bytes.  kind: 'text', 'html' (multipart/alternative),
    'attach' (multipart/mixed with a base64 attachment of `attach` random bytes)."""
    rng = gen.rng
    hdr = []
    hdr.append(b'Return-Path: <bounce@example.test>')
    hdr.append(('Date: %s' % rfc5322_date(date - timedelta(seconds=rng.randint(0, 600)))).encode())
    hdr.append(('From: %s' % gen.addr()).encode())
    hdr.append(('To: %s' % gen.addr()).encode())
    hdr.append(subject_raw if subject_raw is not None else ('Subject: %s' % subject).encode())
    if message_id is not None:
        hdr.append(('Message-ID: %s' % message_id).encode())
    elif mid:
        hdr.append(('Message-ID: %s' % gen.mid()).encode())
    hdr.append(b'MIME-Version: 1.0')
    for h in extra_headers:
        hdr.append(h if isinstance(h, bytes) else h.encode())
    text = gen.text(body_bytes).encode()
    if kind == 'text':
        hdr.append(b'Content-Type: text/plain; charset=us-ascii')
        body = text + b'\r\n'
    else:
        boundary = ('=_b%012x' % rng.getrandbits(48)).encode()
        parts = []
        if kind == 'html':
            hdr.append(b'Content-Type: multipart/alternative; boundary="' + boundary + b'"')
            parts.append(b'Content-Type: text/plain; charset=us-ascii\r\n\r\n' + text + b'\r\n')
            html = b'<html><body><p>' + text.replace(b'\r\n\r\n', b'</p>\r\n<p>') + b'</p></body></html>'
            parts.append(b'Content-Type: text/html; charset=us-ascii\r\n\r\n' + html + b'\r\n')
        else:
            hdr.append(b'Content-Type: multipart/mixed; boundary="' + boundary + b'"')
            parts.append(b'Content-Type: text/plain; charset=us-ascii\r\n\r\n' + text + b'\r\n')
            blob = b'%PDF-1.4\n%\xe2\xe3\xcf\xd3\n' + rng.randbytes(max(0, attach - 15))
            b64 = base64.encodebytes(blob).replace(b'\n', b'\r\n')
            parts.append(b'Content-Type: application/pdf; name="doc%d.pdf"\r\n'
                         b'Content-Transfer-Encoding: base64\r\n'
                         b'Content-Disposition: attachment; filename="doc%d.pdf"\r\n\r\n'
                         % (gen.n, gen.n) + b64)
        body = b'This is a multi-part message in MIME format.\r\n\r\n'
        for p in parts:
            body += b'--' + boundary + b'\r\n' + p
        body += b'--' + boundary + b'--\r\n'
    raw = b'\r\n'.join(hdr) + b'\r\n\r\n' + body
    if eol != b'\r\n':
        raw = raw.replace(b'\r\n', eol)
    return raw


def _msg(gen, subject, flags=(), label='', year=None, **kw):
    date = gen.date(year, year) if year else gen.date()
    raw = build(gen, subject, date, **kw)
    return Msg(raw, flags, imapcheck.fmt_internaldate(date), subject, label)


def _raw_msg(gen, raw, subject, flags=(), label=''):
    date = gen.date()
    return Msg(raw, flags, imapcheck.fmt_internaldate(date), subject, label)


def sized_message(gen, subject, total_size, label='', flags=()):
    """A message with a base64 attachment whose CRLF size is close to total_size
    (within a few hundred bytes, never below)."""
    date = gen.date()
    overhead = len(build(gen, subject, date, body_bytes=200, kind='attach', attach=0))
    b64_len = max(0, total_size - overhead - 200)
    attach = b64_len * 57 // 78
    raw = build(gen, subject, date, body_bytes=200, kind='attach', attach=attach)
    while len(raw) < total_size:
        attach += max(57, (total_size - len(raw)) * 57 // 78)
        raw = build(gen, subject, date, body_bytes=200, kind='attach', attach=attach)
    return Msg(raw, flags, imapcheck.fmt_internaldate(date), subject, label)


# ------------------------------------------------------------------ the corpus


def corpus_messages(seed=1, sep='/', target_sep='.', big=True, size_limit=None,
                    special=None):
    """Builds (without touching a server) the list of (folder, Msg) and the folders.
    special: {'\\Sent': 'Sent Items', ...} names of the special-use folders."""
    gen = Gen(seed)
    special = special or {}
    S = sep
    out = []        # (folder, Msg)
    folders = ['INBOX', 'a', 'a' + S + 'b', 'a' + S + 'b' + S + 'c', 'Quote "this"',
               'Réunions' + S + '2024', '日本語', 'Folder & Co', 'Empty Folder']
    sep_folder = None
    if target_sep and target_sep != S:
        sep_folder = 'v1' + target_sep + '2'
        folders.append(sep_folder)
    kw_sets = [(), ('\\Seen',), ('\\Seen', '\\Answered'), ('\\Flagged',), ('\\Seen', '$Label1'),
               ('Work',), ('\\Seen', '\\Flagged', 'Work')]

    # INBOX
    for i in range(5):
        out.append(('INBOX', _msg(gen, 'Regular message %d' % i, gen.rng.choice(kw_sets),
                                  'regular', body_bytes=gen.rng.randint(500, 6000),
                                  kind='html' if i % 2 else 'text')))
    out.append(('INBOX', _msg(gen, 'No Message-ID here', ('\\Seen',), 'no-mid', mid=False)))
    shared = '<shared-id-%d@corpus.mailferry.test>' % seed
    out.append(('INBOX', _msg(gen, 'Same Message-ID, first body', (), 'dup-mid-1',
                              message_id=shared, body_bytes=800)))
    out.append(('INBOX', _msg(gen, 'Same Message-ID, second body', ('\\Seen',), 'dup-mid-2',
                              message_id=shared, body_bytes=1200)))
    out.append(('INBOX', _msg(gen, 'Bare LF line endings', ('\\Seen',), 'bare-lf',
                              eol=b'\n', body_bytes=1500)))
    subj8 = 'Réunion à 10h — 会議 ✓'
    out.append(('INBOX', _msg(gen, subj8, (), '8bit-subject',
                              subject_raw=('Subject: ' + subj8).encode('utf-8'),
                              extra_headers=[b'X-8bit: caf\xc3\xa9'])))
    out.append(('INBOX', _msg(gen, 'All the flags', ('\\Seen', '\\Answered', '\\Flagged',
                                                      '\\Deleted', '\\Draft', '$Label1', 'Work',
                                                      '$Forwarded'), 'all-flags')))
    out.append(('INBOX', _raw_msg(gen, b'From: Header Only <ho@example.test>\r\n'
                                  b'Subject: Headers only, no blank line\r\n'
                                  b'Message-ID: <header-only@corpus.mailferry.test>\r\n'
                                  b'X-Note: no body and no final CRLF',
                                  'Headers only, no blank line', ('\\Seen',), 'headers-only')))
    out.append(('INBOX', _raw_msg(gen, b'From: Broken <broken@example.test>\r\n'
                                  b'Subject: Malformed, body without blank line\r\n'
                                  b'this line is not a header\r\n'
                                  b'and neither is this one\r\n',
                                  'Malformed, body without blank line', (), 'malformed')))
    twin = build(gen, 'Byte-identical triplet', gen.date(), body_bytes=900)
    tdate = imapcheck.fmt_internaldate(gen.date())
    out.append(('INBOX', Msg(twin, ('\\Seen',), tdate, 'Byte-identical triplet', 'twin-1')))
    out.append(('INBOX', Msg(twin, ('\\Seen',), tdate, 'Byte-identical triplet', 'twin-2')))
    out.append(('INBOX', Msg(twin, ('\\Flagged',), tdate, 'Byte-identical triplet', 'twin-3')))

    # nested and odd names
    for i in range(3):
        out.append(('a', _msg(gen, 'In a #%d' % i, gen.rng.choice(kw_sets), 'nested')))
    for i in range(2):
        out.append(('a' + S + 'b', _msg(gen, 'In a/b #%d' % i, ('\\Seen', 'Work'), 'nested')))
        out.append(('a' + S + 'b' + S + 'c', _msg(gen, 'In a/b/c #%d' % i, (), 'nested')))
    for i in range(2):
        out.append(('Quote "this"', _msg(gen, 'Quoted folder #%d' % i, ('\\Seen',), 'quote')))
        out.append(('Réunions' + S + '2024',
                    _msg(gen, '=?UTF-8?Q?R=C3=A9union_n=C2=B0' + str(i) + '?=', (), 'utf7')))
        out.append(('日本語', _msg(gen, '=?UTF-8?B?5pel5pys6Kqe?= %d' % i, ('\\Seen',), 'cjk')))
    out.append(('Folder & Co', _msg(gen, 'Ampersand folder', ('$Label1',), 'amp')))
    if sep_folder:
        for i in range(2):
            out.append((sep_folder, _msg(gen, 'Separator folder #%d' % i, ('\\Seen',),
                                         'sep-folder')))

    # special-use folders
    per_use = {'\\Sent': (3, ('\\Seen',)), '\\Drafts': (1, ('\\Draft',)),
               '\\Trash': (2, ('\\Seen', '\\Deleted')), '\\Junk': (1, ('$Junk',)),
               '\\Archive': (2, ('\\Seen',))}
    for use in SPECIAL_USES:
        name = special.get(use)
        if not name:
            continue
        n, fl = per_use[use]
        for i in range(n):
            out.append((name, _msg(gen, '%s message %d' % (use[1:], i), fl, 'special',
                                   year=2003 + i)))
    if big:
        arch = special.get('\\Archive') or 'INBOX'
        out.append((arch, sized_message(gen, 'Big 30 MiB attachment', BIG_SIZE, 'big',
                                        flags=('\\Seen',))))
    oversize = []
    if size_limit:
        m = sized_message(gen, 'Oversize message (larger than the target limit)',
                          size_limit + 50000, 'oversize', flags=('\\Seen',))
        out.append(('a', m))
        oversize.append(('a', m))
    return out, folders, sep_folder, oversize


def fill(server, user, seed=1, target_sep='.', big=True, size_limit=None, how='plain'):
    """Creates the corpus folders and appends the corpus for `user` on `server`
    (master-user login).  Returns a Manifest keyed by source folder name."""
    import time
    t0 = time.monotonic()
    conn = imapcheck.connect(server, user, how=how)
    try:
        listing = imapcheck.list_folders(conn)
        sep = next((f[2] for f in listing if f[2]), '/')
        special = {}
        for name, raw, s, attrs in listing:
            for a in attrs:
                if a.capitalize() in [u.capitalize() for u in SPECIAL_USES]:
                    special['\\' + a[1:].capitalize()] = name
        msgs, folders, sep_folder, oversize = corpus_messages(
            seed, sep, target_sep, big, size_limit, special)
        man = Manifest(user, sep, target_sep)
        man.special = special
        for f in folders:
            if f == 'INBOX':
                continue
            try:
                imapcheck.create_folder(conn, f)
            except imapcheck.IMAPError as e:
                if f == sep_folder:
                    man.notes.append('folder %r not possible here: %s' % (f, e))
                    msgs = [(ff, m) for ff, m in msgs if ff != f]
                    sep_folder = None
                    continue
                raise
            man.folders.setdefault(f, [])
        man.folders.setdefault('INBOX', [])
        for name in special.values():
            man.folders.setdefault(name, [])
        man.sep_folder = sep_folder
        for f, m in msgs:
            imapcheck.append_raw(conn, f, m.raw, m.flags, m.internaldate)
            man.add(f, m)
        man.oversize = oversize
    finally:
        imapcheck.logout(conn)
    man.fill_seconds = time.monotonic() - t0
    return man


def add_messages(server, user, folder, n, seed=99, how='plain', flags=()):
    """Appends n fresh messages to folder; returns [Msg]."""
    gen = Gen(seed)
    conn = imapcheck.connect(server, user, how=how)
    out = []
    try:
        for i in range(n):
            m = _msg(gen, 'Added later #%d (seed %d)' % (i, seed), flags, 'added',
                     body_bytes=gen.rng.randint(300, 3000))
            imapcheck.append_raw(conn, folder, m.raw, m.flags, m.internaldate)
            out.append(m)
    finally:
        imapcheck.logout(conn)
    return out


def check_manifest(tree, manifest, ignore_folders=()):
    """Problems (list of str) between a Tree read from the source and the manifest."""
    problems = []
    for f, msgs in manifest.folders.items():
        if f in ignore_folders:
            continue
        tf = tree.folders.get(f)
        if tf is None:
            problems.append('folder %r missing' % f)
            continue
        want = collections.Counter(m.key() for m in msgs)
        have = collections.Counter((m.sha, tuple(sorted(m.flags)), m.epoch) for m in tf.messages)
        if want != have:
            miss = want - have
            extra = have - want
            problems.append('folder %r: %d expected, %d found; %d missing, %d unexpected%s' % (
                f, sum(want.values()), sum(have.values()), sum(miss.values()),
                sum(extra.values()),
                ''.join('\n    missing %s' % (
                    [m for m in msgs if m.key() == k][0],) for k in list(miss)[:3])))
    return problems


# ------------------------------------------------------------------ bulk


SIZE_PROFILES = {
    # (weight, kind, min bytes, max bytes)
    'realistic': [(80, 'text', 2000, 50000), (17, 'html', 4000, 50000),
                  (3, 'attach', 300000, 3000000)],
    'small': [(85, 'text', 600, 4000), (15, 'html', 1000, 6000)],
    'tiny': [(100, 'text', 200, 800)],
}


def bulk_messages(n, seed=1, sizes='realistic', year_from=2005, year_to=2024):
    """Generator of n (raw, flags, internaldate) tuples."""
    gen = Gen(seed)
    profile = SIZE_PROFILES[sizes] if isinstance(sizes, str) else sizes
    weights = [p[0] for p in profile]
    flagsets = [(), ('\\Seen',), ('\\Seen',), ('\\Seen',), ('\\Seen', '\\Answered'),
                ('\\Flagged',), ('\\Seen', 'Work'), ('$Label1',)]
    for i in range(n):
        _, kind, lo, hi = gen.rng.choices(profile, weights)[0]
        size = gen.rng.randint(lo, hi)
        date = gen.date(year_from, year_to)
        subject = 'Bulk %d: %s %s' % (i, gen.rng.choice(WORDS), gen.rng.choice(WORDS))
        if kind == 'attach':
            raw = build(gen, subject, date, body_bytes=1500, kind='attach', attach=size)
        else:
            raw = build(gen, subject, date, body_bytes=size, kind=kind)
        yield raw, gen.rng.choice(flagsets), imapcheck.fmt_internaldate(date)


def bulk(server, user, n, folders=None, sizes='realistic', seed=1, how='plain'):
    """Fills `user` with n messages spread round-robin over folders (default
    ['INBOX']), with pipelined MULTIAPPEND + LITERAL+ (one round trip per batch).
    Returns {'messages': n, 'bytes': total, 'seconds': t, 'per_folder': {f: count}}."""
    import time
    t0 = time.monotonic()
    folders = folders or ['INBOX']
    conn = imapcheck.connect(server, user, how=how)
    pending = collections.OrderedDict((f, []) for f in folders)
    counts = collections.OrderedDict((f, 0) for f in folders)
    total_bytes = 0
    npending = 0

    def flush():
        for f, items in pending.items():
            if items:
                imapcheck.multiappend(conn, f, items)
                counts[f] += len(items)
                pending[f] = []

    try:
        for f in folders:
            if f.upper() != 'INBOX':
                imapcheck.create_folder(conn, f)
        for i, item in enumerate(bulk_messages(n, seed, sizes)):
            pending[folders[i % len(folders)]].append(item)
            total_bytes += len(item[0])
            npending += 1
            if npending >= 2000:
                flush()
                npending = 0
        flush()
    finally:
        imapcheck.logout(conn)
    return {'messages': n, 'bytes': total_bytes, 'seconds': time.monotonic() - t0,
            'per_folder': dict(counts)}
