"""Read whole mailbox trees over IMAP (imaplib) and compare them.

    conn = connect(server, 'user001')            # master login, SASL PLAIN authzid
    tree = read_tree(conn)                        # Tree: folder name -> Folder
    diff = compare(src_tree, dst_tree)            # Diff; diff.ok, diff.report()
    append_raw(conn, 'INBOX', raw, ['\\Seen'], '01-Jan-2001 10:00:00 +0100')

Folder names in a Tree are decoded from modified UTF-7 (RFC 3501 5.1.3) and keep
the server's own hierarchy separator (Tree.sep, Folder.sep); Folder.parts is the
name split on it.  Messages carry the exact BODY[] bytes (fetched with
BODY.PEEK[]), their flags without \\Recent, and INTERNALDATE (string and epoch).

Note on Dovecot: it stores messages with LF line ends and serves them with CRLF,
so a message appended with bare LF is fetched back with CRLF (see corpus.py,
Msg.expected).  Comparisons between servers are on the fetched bytes.
"""

import base64
import calendar
import collections
import hashlib
import imaplib
import re
import ssl
import time
from datetime import datetime, timezone, timedelta

# -------------------------------------------------------------------- modified UTF-7


def mutf7_encode(s):
    """str -> modified UTF-7 (str, ASCII)."""
    out = []
    pending = []

    def flush():
        if pending:
            b = ''.join(pending).encode('utf-16-be')
            out.append('&' + base64.b64encode(b).decode('ascii').rstrip('=').replace('/', ',') + '-')
            pending.clear()

    for ch in s:
        o = ord(ch)
        if 0x20 <= o <= 0x7e:
            flush()
            out.append('&-' if ch == '&' else ch)
        else:
            pending.append(ch)
    flush()
    return ''.join(out)


def mutf7_decode(s):
    """modified UTF-7 (str or bytes) -> str.  Raises ValueError on malformed input."""
    if isinstance(s, bytes):
        s = s.decode('ascii', 'strict')
    out = []
    i = 0
    n = len(s)
    while i < n:
        ch = s[i]
        if ch != '&':
            if not (0x20 <= ord(ch) <= 0x7e):
                raise ValueError('non-ASCII character in modified UTF-7: %r' % s)
            out.append(ch)
            i += 1
            continue
        j = s.find('-', i + 1)
        if j < 0:
            raise ValueError('unterminated & sequence in %r' % s)
        if j == i + 1:
            out.append('&')
        else:
            b64 = s[i + 1:j].replace(',', '/')
            b64 += '=' * (-len(b64) % 4)
            raw = base64.b64decode(b64, validate=True)
            if len(raw) % 2:
                raise ValueError('odd UTF-16 length in %r' % s)
            out.append(raw.decode('utf-16-be'))
        i = j + 1
    return ''.join(out)


def quote(s):
    """IMAP string for s (already mUTF-7 or ASCII): quoted string (bytes)."""
    if isinstance(s, str):
        s = s.encode('utf-8')
    if b'\r' in s or b'\n' in s:
        raise ValueError('CR/LF in IMAP string')
    return b'"' + s.replace(b'\\', b'\\\\').replace(b'"', b'\\"') + b'"'


def qmailbox(name):
    """Quoted, mUTF-7 encoded mailbox name as imaplib argument (str)."""
    return quote(mutf7_encode(name)).decode('ascii')


# -------------------------------------------------------------------- dates

_MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']


def fmt_internaldate(dt):
    """aware datetime (or epoch number, taken as UTC) -> 'dd-Mon-yyyy hh:mm:ss +zzzz'."""
    if isinstance(dt, (int, float)):
        dt = datetime.fromtimestamp(dt, timezone.utc)
    off = dt.utcoffset() or timedelta(0)
    mins = int(off.total_seconds() // 60)
    sign = '+' if mins >= 0 else '-'
    mins = abs(mins)
    return '%02d-%s-%04d %02d:%02d:%02d %s%02d%02d' % (
        dt.day, _MONTHS[dt.month - 1], dt.year, dt.hour, dt.minute, dt.second,
        sign, mins // 60, mins % 60)


_IDATE_RE = re.compile(r'^\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$')


def parse_internaldate(s):
    """'dd-Mon-yyyy hh:mm:ss +zzzz' -> epoch seconds (int)."""
    m = _IDATE_RE.match(s)
    if not m:
        raise ValueError('bad INTERNALDATE %r' % s)
    d, mon, y, hh, mm, ss, sign, oh, om = m.groups()
    t = calendar.timegm((int(y), _MONTHS.index(mon.capitalize()) + 1, int(d),
                         int(hh), int(mm), int(ss)))
    off = (int(oh) * 60 + int(om)) * 60
    return t - off if sign == '+' else t + off


# -------------------------------------------------------------------- connections


class IMAPError(Exception):
    pass


def connect(server, user=None, how='plain', tls=False, timeout=60):
    """Logged-in imaplib connection.

    server: object with host, port (and imaps_port for tls), admin,
            admin_password, users (dict user -> password), e.g. a Dovecot.
    user:   mailbox to act for; None logs in as the admin itself.
    how:    'plain'  SASL PLAIN authzid=user authcid=admin (master user)
            'login'  LOGIN "user*admin" (Dovecot auth_master_user_separator)
            'user'   LOGIN with the user's own password
    """
    host = server.host
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = imaplib.IMAP4_SSL(host, server.imaps_port, ssl_context=ctx, timeout=timeout)
    else:
        conn = imaplib.IMAP4(host, server.port, timeout=timeout)
    try:
        if user is None:
            conn.login(server.admin, server.admin_password)
        elif how == 'plain':
            cred = ('%s\0%s\0%s' % (user, server.admin, server.admin_password)).encode('utf-8')
            conn.authenticate('PLAIN', lambda _challenge: cred)
        elif how == 'login':
            conn.login('%s*%s' % (user, server.admin), server.admin_password)
        elif how == 'user':
            conn.login(user, server.users[user])
        else:
            raise ValueError('how must be plain, login or user')
    except Exception:
        try:
            conn.shutdown()
        except Exception:
            pass
        raise
    return conn


def logout(conn):
    try:
        conn.logout()
    except Exception:
        try:
            conn.shutdown()
        except Exception:
            pass


def capabilities(conn):
    """Post-login capability list (upper-case strings), asked afresh."""
    typ, data = conn.capability()
    caps = []
    for d in data:
        if isinstance(d, bytes):
            caps.extend(d.decode('ascii', 'replace').upper().split())
    return caps


def appendlimit(conn):
    """APPENDLIMIT=N from CAPABILITY as int, or None."""
    for c in capabilities(conn):
        if c.startswith('APPENDLIMIT='):
            return int(c.split('=', 1)[1])
    return None


# -------------------------------------------------------------------- response parsing


def _groups(data):
    """imaplib untagged data -> list of lines, each a list of (text, literal|None)."""
    lines = []
    cur = []
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            cur.append((item[0], item[1]))
        else:
            cur.append((item, None))
            lines.append(cur)
            cur = []
    if cur:
        lines.append(cur)
    return lines


_LIT_RE = re.compile(rb'\{(\d+)\+?\}$')


def parse_line(segments):
    """Parses one response line (segments from _groups) into Python values:
    atoms and quoted strings -> str, literals -> bytes, NIL -> None,
    parenthesised lists -> list."""
    toks = []
    for text, lit in segments:
        if lit is not None:
            m = _LIT_RE.search(text)
            if not m:
                raise IMAPError('literal without {n}: %r' % text[-40:])
            text = text[:m.start()]
        _lex(text, toks)
        if lit is not None:
            toks.append(('lit', lit))
    stack = [[]]
    for kind, val in toks:
        if kind == '(':
            stack.append([])
        elif kind == ')':
            if len(stack) < 2:
                raise IMAPError('unbalanced )')
            inner = stack.pop()
            stack[-1].append(inner)
        else:
            stack[-1].append(val)
    while len(stack) > 1:           # tolerate a missing final ')'
        inner = stack.pop()
        stack[-1].append(inner)
    return stack[0]


def _lex(text, toks):
    i = 0
    n = len(text)
    while i < n:
        c = text[i:i + 1]
        if c in (b' ', b'\r', b'\n', b'\t'):
            i += 1
        elif c == b'(':
            toks.append(('(', None))
            i += 1
        elif c == b')':
            toks.append((')', None))
            i += 1
        elif c == b'"':
            i += 1
            buf = bytearray()
            while i < n:
                ch = text[i]
                if ch == 0x5c and i + 1 < n:      # backslash
                    buf.append(text[i + 1])
                    i += 2
                elif ch == 0x22:
                    i += 1
                    break
                else:
                    buf.append(ch)
                    i += 1
            toks.append(('str', bytes(buf).decode('utf-8', 'surrogateescape')))
        else:
            start = i
            depth = 0
            while i < n:
                ch = text[i:i + 1]
                if ch == b'[':
                    depth += 1
                elif ch == b']':
                    depth -= 1
                elif depth <= 0 and ch in (b' ', b'(', b')', b'\r', b'\n'):
                    break
                i += 1
            atom = text[start:i].decode('utf-8', 'surrogateescape')
            toks.append(('atom', None if atom.upper() == 'NIL' else atom))


# -------------------------------------------------------------------- tree structures


class Message:
    __slots__ = ('folder', 'uid', 'raw', 'sha', 'size', 'flags', 'internaldate', 'epoch',
                 'subject', 'message_id')

    def __init__(self, folder, uid, raw, flags, internaldate, keep_body=True):
        self.folder = folder
        self.uid = uid
        self.sha = hashlib.sha256(raw).hexdigest()
        self.size = len(raw)
        self.raw = raw if keep_body else None
        self.flags = frozenset(f for f in flags if f.lower() != '\\recent')
        self.internaldate = internaldate
        self.epoch = parse_internaldate(internaldate) if internaldate else None
        self.subject = header_value(raw, b'subject')
        self.message_id = header_value(raw, b'message-id')

    def key(self):
        return (self.sha, self.flags, self.epoch)

    def describe(self):
        return 'uid %s size %d subject %r flags %s date %s sha %s' % (
            self.uid, self.size, (self.subject or '')[:50], fmt_flags(self.flags),
            self.internaldate, self.sha[:12])

    def __repr__(self):
        return '<Message %s %s>' % (self.folder, self.describe())


def fmt_flags(flags):
    return '(' + ' '.join(sorted(flags)) + ')'


def header_value(raw, name):
    """First header `name` (lower-case bytes) of a raw message, unfolded, as str."""
    end = len(raw)
    for sep in (b'\r\n\r\n', b'\n\n'):
        k = raw.find(sep)
        if k >= 0:
            end = min(end, k)
    head = raw[:end]
    lines = re.split(rb'\r?\n', head)
    val = None
    for line in lines:
        if val is not None:
            if line[:1] in (b' ', b'\t'):
                val += b' ' + line.strip()
                continue
            break
        if b':' in line:
            k, v = line.split(b':', 1)
            if k.strip().lower() == name:
                val = v.strip()
    return None if val is None else val.decode('utf-8', 'replace')


class Folder:
    def __init__(self, name, raw_name, sep, attrs):
        self.name = name                    # decoded, server separator
        self.raw_name = raw_name            # as on the wire (mUTF-7)
        self.sep = sep
        self.attrs = [a for a in attrs]
        low = [a.lower() for a in attrs]
        self.selectable = '\\noselect' not in low and '\\nonexistent' not in low
        self.special = None
        for a in attrs:
            if a.lower() in ('\\sent', '\\drafts', '\\trash', '\\junk', '\\archive', '\\all',
                             '\\flagged', '\\important'):
                self.special = '\\' + a[1:].capitalize()
        self.messages = []
        self.uidvalidity = None
        self.uidnext = None

    @property
    def parts(self):
        if self.name.upper() == 'INBOX':
            return ('INBOX',)
        return tuple(self.name.split(self.sep)) if self.sep else (self.name,)

    def __repr__(self):
        return '<Folder %r %d msgs%s>' % (self.name, len(self.messages),
                                         ' ' + self.special if self.special else '')


class Tree:
    def __init__(self, sep):
        self.sep = sep
        self.folders = collections.OrderedDict()

    def special(self, use):
        """Name of the folder with special-use `use` ('\\Sent'), or None."""
        for f in self.folders.values():
            if f.special and f.special.lower() == use.lower():
                return f.name
        return None

    def count(self):
        return sum(len(f.messages) for f in self.folders.values())

    def size(self):
        return sum(m.size for f in self.folders.values() for m in f.messages)

    def snapshot(self):
        """{folder: sorted [(uid, sha, flags, epoch)]} for 'nothing changed' checks."""
        return {name: sorted((m.uid, m.sha, tuple(sorted(m.flags)), m.epoch) for m in f.messages)
                for name, f in self.folders.items()}

    def uids(self):
        return {(name, m.uid) for name, f in self.folders.items() for m in f.messages}

    def messages(self):
        for f in self.folders.values():
            for m in f.messages:
                yield m

    def summary(self):
        return '; '.join('%s: %d' % (n, len(f.messages)) for n, f in self.folders.items())


def list_folders(conn, pattern='*'):
    """[(name, raw_name, sep, attrs)] from LIST "" pattern."""
    typ, data = conn.list('""', pattern)
    if typ != 'OK':
        raise IMAPError('LIST failed: %r' % data)
    out = []
    for line in _groups(data):
        vals = parse_line(line)
        if len(vals) < 3:
            continue
        attrs, sep, name = vals[0], vals[1], vals[2]
        if isinstance(name, bytes):
            name = name.decode('ascii', 'replace')
        raw_name = name
        try:
            name = mutf7_decode(name)
        except ValueError:
            pass
        out.append((name, raw_name, sep, attrs or []))
    return out


def read_folder(conn, raw_name, folder_name=None, keep_bodies=True, chunk=500):
    """Messages of one folder (EXAMINE, so \\Seen is not changed)."""
    typ, data = conn.select(quote(raw_name).decode('ascii'), readonly=True)
    if typ != 'OK':
        raise IMAPError('EXAMINE %s failed: %r' % (raw_name, data))
    exists = int(data[0]) if data and data[0] else 0
    uidvalidity = _resp_code_int(conn, 'UIDVALIDITY')
    uidnext = _resp_code_int(conn, 'UIDNEXT')
    msgs = []
    if exists:
        typ, data = conn.uid('SEARCH', None, 'ALL')
        uids = [int(x) for x in b' '.join(d for d in data if d).split()]
        for i in range(0, len(uids), chunk):
            part = uids[i:i + chunk]
            uidset = '%d:%d' % (part[0], part[-1])
            typ, data = conn.uid('FETCH', uidset, '(UID FLAGS INTERNALDATE BODY.PEEK[])')
            if typ != 'OK':
                raise IMAPError('FETCH failed in %s: %r' % (raw_name, data))
            for line in _groups(data):
                vals = parse_line(line)
                if len(vals) < 2 or not isinstance(vals[1], list):
                    continue
                items = vals[1]
                d = {}
                for k in range(0, len(items) - 1, 2):
                    d[str(items[k]).upper()] = items[k + 1]
                if 'UID' not in d or 'BODY[]' not in d:
                    continue
                body = d['BODY[]']
                if isinstance(body, str):
                    body = body.encode('utf-8', 'surrogateescape')
                if body is None:
                    body = b''
                msgs.append(Message(folder_name or raw_name, int(d['UID']), body,
                                    d.get('FLAGS') or [], d.get('INTERNALDATE'),
                                    keep_body=keep_bodies))
    msgs.sort(key=lambda m: m.uid)
    return msgs, uidvalidity, uidnext


def _resp_code_int(conn, name):
    try:
        typ, data = conn.response(name)
        if data and data[0]:
            return int(data[0])
    except Exception:
        pass
    return None


def read_tree(conn, keep_bodies=True, include=None):
    """Whole tree of the logged-in user.  include: optional predicate on folder name."""
    folders = list_folders(conn)
    seps = {f[2] for f in folders if f[2]}
    tree = Tree(seps.pop() if len(seps) == 1 else (sorted(seps)[0] if seps else None))
    for name, raw_name, sep, attrs in sorted(folders, key=lambda f: f[0]):
        if include and not include(name):
            continue
        f = Folder(name, raw_name, sep, attrs)
        if f.selectable:
            f.messages, f.uidvalidity, f.uidnext = read_folder(conn, raw_name, name, keep_bodies)
        tree.folders[name] = f
    try:
        conn.unselect()       # EXAMINEd: nothing would be expunged, but be explicit
    except Exception:
        pass
    return tree


def read_user_tree(server, user, keep_bodies=True, how='plain'):
    conn = connect(server, user, how=how)
    try:
        return read_tree(conn, keep_bodies=keep_bodies)
    finally:
        logout(conn)


# -------------------------------------------------------------------- append


def _flag_list(flags):
    if isinstance(flags, (bytes, str)):
        flags = flags.split()
    flags = [f.decode() if isinstance(f, bytes) else f for f in (flags or [])]
    return '(' + ' '.join(flags) + ')'


def _date_arg(internaldate):
    if internaldate is None:
        return None
    if not isinstance(internaldate, str):
        internaldate = fmt_internaldate(internaldate)
    return '"' + internaldate + '"'


_APPENDUID_RE = re.compile(rb'\[APPENDUID (\d+) ([\d:,]+)\]')


def append_raw(conn, folder, raw, flags=(), internaldate=None):
    """APPENDs raw exactly as given (imaplib's append would rewrite bare LF to
    CRLF).  folder is a decoded name with the server's separator.  Returns the
    new UID from APPENDUID (int) or None; raises IMAPError on NO/BAD."""
    if not isinstance(raw, (bytes, bytearray)):
        raise TypeError('raw must be bytes')
    args = [qmailbox(folder), _flag_list(flags)]
    d = _date_arg(internaldate)
    if d:
        args.append(d)
    conn.literal = bytes(raw)          # imaplib sends this literal unchanged
    try:
        typ, data = conn._simple_command('APPEND', *args)
    except imaplib.IMAP4.abort:
        raise                       # connection lost: let the caller see it as such
    except imaplib.IMAP4.error as e:
        raise IMAPError('APPEND to %r failed: %s' % (folder, e))
    finally:
        conn.literal = None
    if typ != 'OK':
        raise IMAPError('APPEND to %r failed: %s %r' % (folder, typ, data))
    m = _APPENDUID_RE.search(data[0] or b'') if data else None
    if m and m.group(2).isdigit():
        return int(m.group(2))
    return None


def try_append(conn, folder, raw, flags=(), internaldate=None):
    """Like append_raw but returns (typ, text) instead of raising."""
    args = [qmailbox(folder), _flag_list(flags)]
    d = _date_arg(internaldate)
    if d:
        args.append(d)
    conn.literal = bytes(raw)
    try:
        typ, data = conn._simple_command('APPEND', *args)
    except imaplib.IMAP4.error as e:
        return 'BAD', str(e)
    finally:
        conn.literal = None
    return typ, b' '.join(x for x in data if isinstance(x, bytes)).decode('utf-8', 'replace')


def multiappend(conn, folder, items, batch_count=400, batch_bytes=24 << 20):
    """Fast bulk APPEND: MULTIAPPEND (RFC 3502) with LITERAL+ non-synchronising
    literals, one round trip per batch.  items: iterable of (raw, flags, internaldate).
    Returns the number of messages appended.  Needs LITERAL+ and MULTIAPPEND."""
    qf = qmailbox(folder).encode('ascii')
    total = 0
    batch = []
    size = 0

    def flush():
        nonlocal total
        if not batch:
            return
        tag = conn._new_tag()
        parts = [tag + b' APPEND ' + qf]
        for raw, flags, idate in batch:
            parts.append(b' ' + _flag_list(flags).encode('utf-8'))
            d = _date_arg(idate)
            if d:
                parts.append(b' ' + d.encode('ascii'))
            parts.append(b' {%d+}\r\n' % len(raw))
            parts.append(raw)
        parts.append(b'\r\n')
        conn.send(b''.join(parts))
        typ, data = conn._command_complete('APPEND', tag)
        if typ != 'OK':
            raise IMAPError('MULTIAPPEND to %r failed: %s %r' % (folder, typ, data))
        total += len(batch)
        batch.clear()

    for raw, flags, idate in items:
        batch.append((bytes(raw), flags, idate))
        size += len(raw)
        if len(batch) >= batch_count or size >= batch_bytes:
            flush()
            size = 0
    flush()
    return total


def create_folder(conn, name, subscribe=True):
    """CREATE (ignores 'already exists')."""
    typ, data = conn._simple_command('CREATE', qmailbox(name))
    if typ != 'OK':
        text = b' '.join(x for x in data if isinstance(x, bytes))
        if b'ALREADYEXISTS' not in text.upper() and b'EXISTS' not in text.upper():
            raise IMAPError('CREATE %r failed: %r' % (name, text))
    if subscribe:
        conn._simple_command('SUBSCRIBE', qmailbox(name))


def store_flags(conn, folder, uid, op, flags):
    """UID STORE uid op (flags); op '+FLAGS', '-FLAGS' or 'FLAGS'."""
    typ, data = conn.select(qmailbox(folder))
    if typ != 'OK':
        raise IMAPError('SELECT %r failed: %r' % (folder, data))
    typ, data = conn.uid('STORE', str(uid), op + '.SILENT', _flag_list(flags))
    if typ != 'OK':
        raise IMAPError('STORE failed: %r' % data)
    conn.unselect()        # never CLOSE: it expunges messages flagged \Deleted


def expunge_uid(conn, folder, uid):
    """Removes exactly one message (UID EXPUNGE, RFC 4315)."""
    typ, data = conn.select(qmailbox(folder))
    if typ != 'OK':
        raise IMAPError('SELECT %r failed: %r' % (folder, data))
    conn.uid('STORE', str(uid), '+FLAGS.SILENT', '(\\Deleted)')
    typ, data = conn.uid('EXPUNGE', str(uid))
    conn.unselect()
    if typ != 'OK':
        raise IMAPError('UID EXPUNGE failed: %r' % data)


# -------------------------------------------------------------------- comparison


def default_folder_map(src, dst, sep_char='_', explicit=None):
    """{source folder name: expected target folder name}.

    Rules (those of the mailferry CLI contract): explicit SRC=DST rules first;
    a folder with a special-use attribute goes to the target folder with the
    same attribute (children follow it); INBOX stays INBOX; otherwise each
    path component keeps its name with the target separator replaced by
    sep_char, joined with the target separator."""
    explicit = explicit or {}
    special_map = {}
    for f in src.folders.values():
        if f.special:
            t = dst.special(f.special)
            if t:
                special_map[f.parts] = tuple(t.split(dst.sep)) if dst.sep else (t,)
    out = {}
    for name, f in src.folders.items():
        if name in explicit:
            out[name] = explicit[name]
            continue
        parts = f.parts
        mapped = None
        for k in range(len(parts), 0, -1):
            if parts[:k] in special_map:
                mapped = special_map[parts[:k]] + tuple(
                    p.replace(dst.sep, sep_char) if dst.sep else p for p in parts[k:])
                break
        if mapped is None:
            if parts == ('INBOX',) or name.upper() == 'INBOX':
                mapped = ('INBOX',)
            else:
                mapped = tuple(p.replace(dst.sep, sep_char) if dst.sep else p for p in parts)
        out[name] = (dst.sep or '/').join(mapped)
    return out


class FolderDiff:
    def __init__(self, src, dst):
        self.src = src
        self.dst = dst
        self.missing = []       # source messages absent on target
        self.extra = []         # target messages whose bytes are not in the source folder
        self.duplicates = []    # surplus target copies of a source message
        self.differ = []        # (src msg, dst msg, what)

    @property
    def ok(self):
        return not (self.missing or self.extra or self.duplicates or self.differ)


class Diff:
    def __init__(self):
        self.folders = []               # FolderDiff
        self.missing_folders = []       # (src name, expected dst name)
        self.extra_folders = []         # non-empty target folders nobody maps to
        self.compared_messages = 0
        self.ignored = 0

    def _sum(self, attr):
        return sum(len(getattr(f, attr)) for f in self.folders)

    @property
    def missing(self):
        return self._sum('missing')

    @property
    def extra(self):
        return self._sum('extra') + sum(n for _, n in self.extra_folders)

    @property
    def duplicates(self):
        return self._sum('duplicates')

    @property
    def differ(self):
        return self._sum('differ')

    @property
    def ok(self):
        return not (self.missing or self.extra or self.duplicates or self.differ
                    or self.missing_folders)

    def verdict(self):
        return ('%d messages compared: %d missing, %d extra, %d differ, %d duplicated, '
                '%d folders missing' % (self.compared_messages, self.missing, self.extra,
                                        self.differ, self.duplicates, len(self.missing_folders)))

    def report(self, max_lines=60):
        lines = [self.verdict()]
        for s, d in self.missing_folders:
            lines.append('  folder missing on target: %r (expected as %r)' % (s, d))
        for d, n in self.extra_folders:
            lines.append('  unexpected target folder %r with %d messages' % (d, n))
        for fd in self.folders:
            if fd.ok:
                continue
            lines.append('  %r -> %r: %d missing, %d extra, %d duplicated, %d differ' % (
                fd.src, fd.dst, len(fd.missing), len(fd.extra), len(fd.duplicates),
                len(fd.differ)))
            for m in fd.missing[:5]:
                lines.append('    missing   ' + m.describe())
            for m in fd.extra[:5]:
                lines.append('    extra     ' + m.describe())
            for m in fd.duplicates[:5]:
                lines.append('    duplicate ' + m.describe())
            for s, t, what in fd.differ[:5]:
                lines.append('    differ (%s): source %s' % (what, s.describe()))
                lines.append('                 target %s' % t.describe())
        if len(lines) > max_lines:
            lines = lines[:max_lines] + ['  ... (%d more lines)' % (len(lines) - max_lines)]
        return '\n'.join(lines)

    def __str__(self):
        return self.report()


def compare(src, dst, mapping=None, ignore=None, check_flags=True, check_dates=True,
            sep_char='_', folders=None):
    """Compares two Trees.

    mapping: {src folder: dst folder} or callable(src name) -> dst name (None to
             skip the folder); default default_folder_map(src, dst, sep_char).
    ignore:  predicate(src Message) -> True to leave a source message out (e.g. the
             one skipped for size), or a set of sha256 hex digests.
    folders: only compare these source folders (default all selectable ones).
    Target folders that nothing maps to are reported only when they hold messages."""
    if mapping is None:
        mapping = default_folder_map(src, dst, sep_char)
    mapfn = mapping if callable(mapping) else mapping.get
    if isinstance(ignore, (set, frozenset)):
        shas = ignore
        ignore = lambda m: m.sha in shas          # noqa: E731
    diff = Diff()
    used = set()
    for name, f in src.folders.items():
        if folders is not None and name not in folders:
            continue
        if not f.selectable:
            continue
        tname = mapfn(name)
        if tname is None:
            continue
        used.add(tname)
        tf = dst.folders.get(tname)
        if tf is None and tname.upper() == 'INBOX':
            tf = dst.folders.get('INBOX')
        smsgs = [m for m in f.messages if not (ignore and ignore(m))]
        diff.ignored += len(f.messages) - len(smsgs)
        if tf is None or not tf.selectable:
            diff.missing_folders.append((name, tname))
            fd = FolderDiff(name, tname)
            fd.missing = smsgs
            diff.folders.append(fd)
            continue
        fd = FolderDiff(name, tname)
        diff.compared_messages += len(smsgs)
        by_sha_s = collections.defaultdict(list)
        by_sha_d = collections.defaultdict(list)
        for m in smsgs:
            by_sha_s[m.sha].append(m)
        for m in tf.messages:
            by_sha_d[m.sha].append(m)
        for sha, sl in by_sha_s.items():
            dl = by_sha_d.get(sha, [])
            if len(dl) < len(sl):
                # which source copies are missing is arbitrary for identical bytes
                fd.missing.extend(sl[len(dl):])
            elif len(dl) > len(sl):
                fd.duplicates.extend(dl[len(sl):])
            _pair_metadata(fd, sl, dl, check_flags, check_dates)
        for sha, dl in by_sha_d.items():
            if sha not in by_sha_s:
                fd.extra.extend(dl)
        diff.folders.append(fd)
    for tname, tf in dst.folders.items():
        if tname in used or not tf.messages:
            continue
        diff.extra_folders.append((tname, len(tf.messages)))
    return diff


def _pair_metadata(fd, sl, dl, check_flags, check_dates):
    """Matches copies with the same bytes by (flags, date), reports leftovers."""
    def k(m):
        return ((tuple(sorted(m.flags)) if check_flags else ()),
                (m.epoch if check_dates else 0))
    n = min(len(sl), len(dl))
    remaining_d = list(dl)
    unmatched_s = []
    for m in sl:
        for i, t in enumerate(remaining_d):
            if k(t) == k(m):
                del remaining_d[i]
                break
        else:
            unmatched_s.append(m)
    # only as many differences as there are pairs
    unmatched_s = unmatched_s[:max(0, n - (len(sl) - len(unmatched_s)))]
    for s, t in zip(unmatched_s, remaining_d):
        what = []
        if check_flags and s.flags != t.flags:
            what.append('flags')
        if check_dates and s.epoch != t.epoch:
            what.append('internaldate')
        fd.differ.append((s, t, '+'.join(what) or 'metadata'))


def compare_users(src_server, src_user, dst_server, dst_user, **kw):
    """Reads both trees and compares them; returns (diff, src_tree, dst_tree)."""
    s = read_user_tree(src_server, src_user)
    d = read_user_tree(dst_server, dst_user)
    return compare(s, d, **kw), s, d


def wait_port(host, port, timeout=10.0):
    import socket
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
