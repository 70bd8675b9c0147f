"""A throw-away OpenLDAP slapd on 127.0.0.1 for directory discovery tests.

    from mftest.slapd import Slapd, have_slapd
    with Slapd(ldif_text, suffix='dc=example', size_limit=500) as d:
        d.url               # ldap://127.0.0.1:PORT
        d.modify(ldif)      # ldapmodify as the root DN (changetype records)
        d.search(base, filter, attrs, paged=False)   # ldapsearch output text

Debian's slapd (package slapd) with a slapd.conf in a temp folder, one mdb
database, the core/cosine/inetorgperson schemas and AD_SCHEMA (below,
written for these tests).  The entries are bulk-loaded with slapadd before
slapd starts (2 000 entries take well under a second).  slapd runs in the
foreground (-d 0) as the current user and is killed at the end.

size_limit caps what one search returns to anyone but the root DN, while a
paged search (RFC 2696) may return any number of entries in pages of at most
size_limit: only paging gets the whole directory.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

from . import report
from .dovecot import free_port  # noqa: F401  (also for the tests)

SLAPD = '/usr/sbin/slapd'
SLAPADD = '/usr/sbin/slapadd'
SCHEMA_DIR = '/etc/ldap/schema'
MODULE_DIR = '/usr/lib/ldap'

ROOT_PW = 'mftest-root-pw'

# The Active Directory / Exchange attributes discovery reads, with matching
# rules so that filters on them work (equality, and ordering for the change
# counter).  OIDs are those AD uses.
AD_SCHEMA = """\
# mftest: a few Active Directory and Exchange attributes for slapd tests.
attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID'
  EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.210 NAME 'proxyAddresses'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.2.840.113556.1.2.244 NAME 'homeMDB'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.238 NAME 'publicDelegates'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
# msExchDelegateListLink: the users with FullAccess on a mailbox that
# Outlook auto-maps.  Its real OID was not found in public sources: this one
# is under the RFC 5612 documentation arc.
attributetype ( 1.3.6.1.4.1.32473.1.1.1 NAME 'msExchDelegateListLink'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
# memberOf: in AD a back-link computed from the groups' member; here a plain
# attribute the test writes itself (no memberof overlay), so that changing
# it need not touch uSNChanged, as in AD.
attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
attributetype ( 1.2.840.113556.1.4.7000.102.73 NAME 'msExchHideFromAddressLists'
  EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.7000.102.50855 NAME 'msExchRecipientTypeDetails'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.120 NAME 'uSNChanged'
  EQUALITY integerMatch ORDERING integerOrderingMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.9 NAME 'user' SUP organizationalPerson STRUCTURAL
  MAY ( mail $ displayName $ objectGUID $ sAMAccountName $ userPrincipalName $
        proxyAddresses $ homeMDB $ publicDelegates $ msExchDelegateListLink $ memberOf $
        msExchHideFromAddressLists $ msExchRecipientTypeDetails $ uSNChanged ) )
"""


def have_slapd():
    return os.access(SLAPD, os.X_OK) and os.access(SLAPADD, os.X_OK) and \
        shutil.which('ldapmodify') is not None and os.path.isdir(SCHEMA_DIR)


def require():
    """Skips (77) without slapd (a failure instead when
    MFTEST_REQUIRE_DOVECOT=1, as in CI, where every server must be there)."""
    report.need(have_slapd(), 'slapd', 'apt-get install slapd ldap-utils')




class Slapd:
    def __init__(self, ldif, suffix='dc=example', size_limit=500, keep=False, db_maxsize=268435456):
        self.suffix = suffix
        self.root_dn = 'cn=root,' + suffix
        self.size_limit = size_limit
        self.db_maxsize = db_maxsize        # mdb map size: 100 000 AD entries need ~1 GB
        self.ldif = ldif
        self.keep = keep or bool(os.environ.get('MFTEST_KEEP'))
        self.dir = tempfile.mkdtemp(prefix='mftest-slapd-')
        self.port = free_port()
        self.url = 'ldap://127.0.0.1:%d' % self.port
        self.proc = None
        self.log_path = os.path.join(self.dir, 'slapd.log')

    # ------------------------------------------------------------ set-up
    def _write_conf(self):
        schema = os.path.join(self.dir, 'mftest-ad.schema')
        with open(schema, 'w') as f:
            f.write(AD_SCHEMA)
        os.mkdir(os.path.join(self.dir, 'db'), 0o700)
        conf = os.path.join(self.dir, 'slapd.conf')
        with open(conf, 'w') as f:
            for s in ('core', 'cosine', 'inetorgperson'):
                f.write('include %s/%s.schema\n' % (SCHEMA_DIR, s))
            f.write('include %s\n' % schema)
            f.write('modulepath %s\nmoduleload back_mdb\n' % MODULE_DIR)
            f.write('pidfile %s/slapd.pid\nargsfile %s/slapd.args\n' % (self.dir, self.dir))
            # A plain search stops at size_limit; a paged one may go on.
            f.write('sizelimit size.soft=%d size.hard=%d size.prtotal=unlimited\n'
                    % (self.size_limit, self.size_limit))
            f.write('database mdb\nmaxsize %d\n' % self.db_maxsize)
            f.write('suffix "%s"\nrootdn "%s"\nrootpw %s\n' % (self.suffix, self.root_dn, ROOT_PW))
            f.write('directory %s/db\n' % self.dir)
            f.write('access to attrs=userPassword by anonymous auth by self read by * none\n')
            f.write('access to * by users read by * none\n')
        return conf

    def start(self):
        self.conf = self._write_conf()
        ldif_path = os.path.join(self.dir, 'data.ldif')
        with open(ldif_path, 'w', encoding='utf-8') as f:
            f.write(self.ldif)
        t0 = time.monotonic()
        # -q: quick mode (no consistency checks), fine for generated data.
        p = subprocess.run([SLAPADD, '-q', '-f', self.conf, '-l', ldif_path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise RuntimeError('slapadd failed:\n' + p.stdout.decode('utf-8', 'replace')[-3000:])
        self.load_seconds = time.monotonic() - t0
        self.log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen([SLAPD, '-d', '0', '-f', self.conf, '-h', self.url + '/'],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('slapd exited (%s):\n%s' % (self.proc.returncode, self.log_tail()))
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError('slapd did not listen on %s:\n%s' % (self.url, self.log_tail()))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if getattr(self, 'log', None):
            self.log.close()
            self.log = None
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *a):
        self.stop()

    def log_tail(self, n=30):
        try:
            with open(self.log_path, 'rb') as f:
                return '\n'.join(f.read().decode('utf-8', 'replace').splitlines()[-n:])
        except OSError:
            return ''

    # ------------------------------------------------------------ using it
    def _tool(self, tool, args, input_text=None):
        argv = [tool, '-x', '-H', self.url, '-D', self.root_dn, '-w', ROOT_PW] + list(args)
        p = subprocess.run(argv, input=input_text.encode('utf-8') if input_text else None,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')

    def modify(self, ldif):
        """ldapmodify of changetype records; raises on failure."""
        rc, out, err = self._tool('ldapmodify', [], ldif)
        if rc != 0:
            raise RuntimeError('ldapmodify failed (%d): %s %s' % (rc, out, err))

    def add_referral(self, dn, rdn_attr, rdn_value, ref):
        """Adds a referral entry (RFC 3296 objectClass referral) at dn
        pointing to ref, with the ManageDsaIT control so that slapd writes
        it instead of referring."""
        ldif = ('dn: %s\nchangetype: add\nobjectClass: referral\nobjectClass: extensibleObject\n'
                '%s: %s\nref: %s\n\n' % (dn, rdn_attr, rdn_value, ref))
        rc, out, err = self._tool('ldapmodify', ['-M'], ldif)
        if rc != 0:
            raise RuntimeError('ldapmodify -M failed (%d): %s %s' % (rc, out, err))

    def delete(self, dn):
        rc, out, err = self._tool('ldapdelete', [dn])
        if rc != 0:
            raise RuntimeError('ldapdelete failed (%d): %s %s' % (rc, out, err))

    def search_as(self, bind_dn, password, base, filt, attrs=(), paged=False):
        """ldapsearch as bind_dn: (exit code, number of entries)."""
        argv = ['ldapsearch', '-x', '-LLL', '-H', self.url, '-D', bind_dn, '-w', password,
                '-b', base]
        if paged:
            argv += ['-E', 'pr=%d/noprompt' % self.size_limit]
        argv += [filt] + list(attrs or ['1.1'])
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        out = p.stdout.decode('utf-8', 'replace')
        return p.returncode, sum(1 for line in out.splitlines() if line.startswith('dn:'))
