"""A terminal for console tests: runs mailferry's console inside tmux (a
real terminal emulator), feeds keys and reads the screen back with
capture-pane.  Each Term has its own tmux server (socket), killed on close.

    with term.Term(mf, 'console --no-engine', width=100, height=30) as t:
        t.wait(lambda s: 'Mailbox Jobs' in s)
        t.keys('j', 'Enter')
        line = t.line(0)
"""

import os
import shlex
import shutil
import subprocess
import time

TMUX = shutil.which('tmux')


class Term:
    def __init__(self, mf, args, width=100, height=30, env=None):
        self.mf = mf
        self.sock = 'mft%d_%d' % (os.getpid(), id(self) % 100000)
        self.width, self.height = width, height
        self.wrapper = os.path.join(mf.dir, 'term-%s.sh' % self.sock)
        with open(self.wrapper, 'w') as f:
            # tmux sets TERM (and TMUX) for the pane: the caller's would
            # break its keys, unless a test asks for one on purpose.
            merged = {k: v for k, v in mf.env().items() if k not in ('TERM', 'TMUX', 'TMUX_PANE')}
            merged.update(env or {})
            for k, v in merged.items():
                if k.isidentifier():
                    f.write('export %s=%s\n' % (k, shlex.quote(v)))
            f.write('exec %s %s\n' % (' '.join(map(shlex.quote, mf.argv([]))), args))

    def tmux(self, *args, check=True):
        return tmux(self.sock, *args, check=check)

    def start(self):
        self.tmux('new-session', '-d', '-s', 'mf', '-x', str(self.width), '-y', str(self.height),
                  'sh ' + shlex.quote(self.wrapper))
        # Escape followed quickly by a key must stay two keys, not Meta-key.
        self.tmux('set-option', '-g', 'escape-time', '0', check=False)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.close()

    def close(self):
        self.tmux('kill-server', check=False)

    def screen(self):
        return screen(self.sock)

    def screen_with_attributes(self):
        """The screen with its SGR escape sequences (colours, bold, reverse)."""
        return self.tmux('capture-pane', '-p', '-e', '-t', 'mf', check=False).stdout

    def line(self, n):
        lines = self.screen().split('\n')
        return lines[n] if n < len(lines) else ''

    def keys(self, *keys, literal=False):
        """tmux key names ('Enter', 'Escape', 'Space', 'F6', 'C-c') or text."""
        for k in keys:
            if literal:
                self.tmux('send-keys', '-t', 'mf', '-l', k)
            else:
                self.tmux('send-keys', '-t', 'mf', k)
            time.sleep(0.05)

    def type(self, text):
        self.keys(text, literal=True)

    def wait(self, pred, timeout=20.0):
        """Polls the screen until pred(text) holds; returns (ok, last screen)."""
        return wait_for(self.sock, pred, timeout)

    def resize(self, width, height):
        self.width, self.height = width, height
        self.tmux('resize-window', '-t', 'mf', '-x', str(width), '-y', str(height), check=False)

    def alive(self):
        return self.tmux('has-session', '-t', 'mf', check=False).returncode == 0

    def wait_exit(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.2)
        return not self.alive()


# --- the same, for tests that drive a tmux server of their own by socket name

def tmux(sock, *args, check=True):
    return subprocess.run([TMUX, '-L', sock, '-f', '/dev/null'] + list(args),
                          capture_output=True, text=True, check=check)


def screen(sock):
    return tmux(sock, 'capture-pane', '-p', '-t', 'mf', check=False).stdout


def keys(sock, *k):
    """Sends keys one by one (an Esc followed at once by a key would read as Alt)."""
    for key in k:
        tmux(sock, 'send-keys', '-t', 'mf', key)
        time.sleep(0.05)


def typed(sock, text):
    tmux(sock, 'send-keys', '-t', 'mf', '-l', text)
    time.sleep(0.1)


def wait_for(sock, pred, timeout=15.0):
    """Polls the screen until pred(text) holds; returns (ok, last screen)."""
    deadline = time.monotonic() + timeout
    text = ''
    while time.monotonic() < deadline:
        text = screen(sock)
        try:
            if pred(text):
                return True, text
        except (IndexError, ValueError):
            pass
        time.sleep(0.1)
    return False, text


def require():
    """Skips (77) without tmux, which every console test drives."""
    if not TMUX:
        print('SKIP: tmux is not installed')
        raise SystemExit(77)


def row_of(text, needle):
    """The first screen line containing needle, or ''."""
    for line in text.split('\n'):
        if needle in line:
            return line
    return ''
