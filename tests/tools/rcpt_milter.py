#!/usr/bin/python3
"""rcpt_milter.py - an independent milter on python3-milter (pymilter,
Debian's binding of Sendmail's libmilter) that refuses one recipient at
RCPT, and optionally the connection, a HELO or a sender, for spoolgate's
issue-22 tests.

  rcpt_milter.py PORT ADDRESS LOG [--connect] [--helo NAME] [--mail SENDER]
                 [--code CODE]
      listen on inet:PORT@127.0.0.1; RCPT TO:<ADDRESS> gets
      550 5.7.1 "ADDRESS is not welcome here"; every other recipient is
      accepted, and each message at its end. Each recipient it is asked
      about is appended to LOG, and each stage as "connect", "helo NAME",
      "mail SENDER".
      --connect      refuse every connection at CONNECT
      --helo NAME    refuse HELO/EHLO NAME
      --mail SENDER  refuse MAIL FROM:<SENDER>
      --code CODE    the code of those refusals (550: "5.7.1", 4xx: "4.7.1";
                     default 550), with text "STAGE refused by rcpt_milter"
"""
import argparse
import sys

try:
    import Milter
except ImportError as exc:
    print(f"rcpt_milter.py: python3-milter is not installed: {exc}", file=sys.stderr)
    sys.exit(77)

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("refused")
ap.add_argument("log")
ap.add_argument("--connect", action="store_true")
ap.add_argument("--helo")
ap.add_argument("--mail")
ap.add_argument("--code", default="550")
ARGS = ap.parse_args()
PORT, REFUSED, LOG = ARGS.port, ARGS.refused.lower(), ARGS.log


def note(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")


class RcptMilter(Milter.Base):
    def refuse(self, stage):
        code = ARGS.code
        self.setreply(code, "5.7.1" if code.startswith("5") else "4.7.1",
                      f"{stage} refused by rcpt_milter")
        return Milter.REJECT if code.startswith("5") else Milter.TEMPFAIL

    def connect(self, hostname, family, hostaddr):
        note("connect")
        return self.refuse("CONNECT") if ARGS.connect else Milter.CONTINUE

    def hello(self, name):
        note(f"helo {name}")
        return self.refuse("HELO") if ARGS.helo and name.lower() == ARGS.helo.lower() else Milter.CONTINUE

    def envfrom(self, sender, *params):
        address = sender.strip("<>").lower()
        note(f"mail {address}")
        return self.refuse("MAIL") if ARGS.mail and address == ARGS.mail.lower() else Milter.CONTINUE

    def envrcpt(self, to, *params):
        address = to.strip("<>").lower()
        note(address)
        if address == REFUSED:
            self.setreply("550", "5.7.1", f"{address} is not welcome here")
            return Milter.REJECT
        return Milter.CONTINUE

    def eom(self):
        return Milter.ACCEPT


Milter.factory = RcptMilter
Milter.runmilter("rcptmilter", f"inet:{PORT}@127.0.0.1", 30)
