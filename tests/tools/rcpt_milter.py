#!/usr/bin/python3
"""rcpt_milter.py - an independent milter on python3-milter (pymilter,
Debian's binding of Sendmail's libmilter) that refuses one recipient at
RCPT, for spoolgate's issue-22 tests.

  rcpt_milter.py PORT ADDRESS LOG
      listen on inet:PORT@127.0.0.1; RCPT TO:<ADDRESS> gets
      550 5.7.1 "ADDRESS is not welcome here"; every other recipient is
      accepted, and each message at its end. Each recipient it is asked
      about is appended to LOG.
"""
import sys

try:
    import Milter
except ImportError as exc:
    print(f"rcpt_milter.py: python3-milter is not installed: {exc}", file=sys.stderr)
    sys.exit(77)

PORT, REFUSED, LOG = int(sys.argv[1]), sys.argv[2].lower(), sys.argv[3]


class RcptMilter(Milter.Base):
    def envrcpt(self, to, *params):
        address = to.strip("<>").lower()
        with open(LOG, "a") as f:
            f.write(address + "\n")
        if address == REFUSED:
            self.setreply("550", "5.7.1", f"{address} is not welcome here")
            return Milter.REJECT
        return Milter.CONTINUE

    def eom(self):
        return Milter.ACCEPT


Milter.factory = RcptMilter
Milter.runmilter("rcptmilter", f"inet:{PORT}@127.0.0.1", 30)
