"""Helpers for the integration test scripts: one line per check, sysexits-style
exit codes for automake (0 pass, 77 skip, 1 fail, 99 hard error)."""

import os
import signal
import sys
import time
import traceback


def need(present, what, install):
    """Skips the test (exit 77) when a server it needs is not installed; a
    failure instead when MFTEST_REQUIRE_DOVECOT=1, as in CI, where every
    server must be there.  what names it, install says how to get it."""
    if present:
        return
    if os.environ.get('MFTEST_REQUIRE_DOVECOT') == '1':
        print('FAIL: %s is not installed (%s)' % (what, install))
        raise SystemExit(1)
    print('SKIP: %s is not installed (%s)' % (what, install))
    raise SystemExit(77)


class Skip(Exception):
    pass


class Checks:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.t0 = time.monotonic()

    def check(self, cond, what, detail=None):
        """Prints 'PASS: what' or 'FAIL: what' (+ indented detail); returns cond."""
        cond = bool(cond)
        if cond:
            self.passed += 1
            print('PASS: %s' % what, flush=True)
        else:
            self.failed += 1
            self.failures.append(what)
            print('FAIL: %s' % what, flush=True)
            if detail is not None:
                text = detail() if callable(detail) else detail
                for line in str(text).splitlines():
                    print('      ' + line, flush=True)
        return cond

    def info(self, msg):
        print('INFO: %s' % msg, flush=True)

    def elapsed(self):
        return time.monotonic() - self.t0

    def summary(self):
        print('%s: %d passed, %d failed (%.1fs)' % (self.name, self.passed, self.failed,
                                                   self.elapsed()), flush=True)
        for f in self.failures:
            print('  failed: %s' % f, flush=True)
        return 0 if self.failed == 0 else 1


def main(fn, name=None):
    """Runs fn(checks) and exits with 0/1/77; an exception counts as a failure."""
    name = name or os.path.basename(sys.argv[0])
    checks = Checks(name)

    def on_term(signum, frame):
        raise SystemExit(1)       # unwinds the with-blocks: servers stopped, temp dirs removed
    signal.signal(signal.SIGTERM, on_term)
    try:
        fn(checks)
    except Skip as e:
        print('SKIP: %s' % e, flush=True)
        sys.exit(77)
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        checks.check(False, 'test script ran to its end (exception above)')
    sys.exit(checks.summary())
