"""aiosmtpd handler for the notification tests (run by Debian's python3 in
the SMTP server process, not imported by the tests): keeps every message
in a Maildir with the envelope added as X-Envelope-From/X-Envelope-To, and
refuses recipients at nobody@ the way a real server does (550 5.1.1)."""

import mailbox


class Store:
    def __init__(self, maildir):
        self.box = mailbox.Maildir(maildir, create=True)

    @classmethod
    def from_cli(cls, parser, *args):
        """aiosmtpd -c smtp_handler.Store MAILDIR"""
        if len(args) != 1:
            parser.error('Store needs the Maildir path')
        return cls(args[0])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith('nobody@'):
            return '550 5.1.1 <%s>: Recipient address rejected: User unknown' % address
        envelope.rcpt_tos.append(address)
        return '250 2.1.5 OK'

    async def handle_DATA(self, server, session, envelope):
        head = 'X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n' % (envelope.mail_from, ', '.join(envelope.rcpt_tos))
        self.box.add(head.encode() + envelope.original_content)
        return '250 2.0.0 Message accepted for delivery'
