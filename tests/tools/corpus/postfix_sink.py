#!/usr/bin/python3
"""The smarthost behind a throwaway Postfix while make-corpus runs: refuses
RCPT to nobody@ with 550 (Postfix writes a bounce, RFC 3464), defers slow@
with 451 (a delay warning), accepts the rest, and saves every message as
OUTDIR/postfix--<kind>.eml: relayed-<case> for relayed mail,
<action>-dsn-<case> for a DSN (action from its report: failed, delayed,
relayed), where <case> is the X-Corpus-Case header of the original.
usage: postfix_sink.py PORT OUTDIR"""
import asyncio
import os
import re
import sys

from aiosmtpd.controller import Controller

PORT, OUT = int(sys.argv[1]), sys.argv[2]


class Sink:
    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        if address.startswith("slow@"):
            return "451 4.3.0 <%s>: mailbox busy, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        case = re.search(rb"^X-Corpus-Case: *([a-z0-9-]+)", data, re.M | re.I)
        case = case.group(1).decode() if case else "unknown"
        if envelope.mail_from in ("", "<>"):
            action = re.search(rb"^Action: *([a-z]+)", data, re.M | re.I)
            kind = "%s-dsn-%s" % (action.group(1).decode().lower() if action else "unknown", case)
        else:
            kind = "relayed-" + case
        with open(os.path.join(OUT, "postfix--%s.eml" % kind), "wb") as f:
            f.write(data)
        return "250 OK"


controller = Controller(Sink(), hostname="127.0.0.1", port=PORT, decode_data=False)
controller.start()
try:
    asyncio.get_event_loop().run_until_complete(asyncio.sleep(180))
finally:
    controller.stop()
