"""mftest: test harness for mailferry (standard library only).

Modules:
  dovecot    start throw-away Dovecot instances (own config, ports, users, master user)
  imapcheck  read a whole mailbox tree over IMAP, compare trees, append exact bytes
  corpus     deterministic test corpus and bulk generator
  proxy      TCP proxy with delay and fault injection
  cli        run the mailferry binary with a private store and config
  mbsync     run isync's mbsync between two servers (for comparisons/benchmarks)
  report     tiny helpers for test scripts (one line per check, exit codes)
"""
