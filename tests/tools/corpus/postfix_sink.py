#!/usr/bin/python3
"""The smarthost behind a throwaway Postfix while make-corpus runs: refuses
RCPT to nobody@ with 550 (so Postfix writes a bounce, RFC 3464) and saves
every message it accepts as OUTDIR/postfix--<kind>.eml.
usage: postfix_sink.py PORT OUTDIR"""
import asyncio
import os
import sys

from aiosmtpd.controller import Controller

PORT, OUT = int(sys.argv[1]), sys.argv[2]


class Sink:
    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        kind = "bounce-dsn" if envelope.mail_from in ("", "<>") else "relayed-cron-utf8"
        with open(os.path.join(OUT, "postfix--%s.eml" % kind), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        return "250 OK"


controller = Controller(Sink(), hostname="127.0.0.1", port=PORT, decode_data=False)
controller.start()
try:
    asyncio.get_event_loop().run_until_complete(asyncio.sleep(120))
finally:
    controller.stop()
