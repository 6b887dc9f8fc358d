#!/usr/bin/python3
"""Independent SMTP client and message generator for spoolgate's integration
tests: Python's email package makes the messages, smtplib sends them.

  smtp_client.py gen KIND OUT          write a CRLF message of KIND to OUT
  smtp_client.py send PORT FILE [--from A] [--to B ...]
                                       send FILE with smtplib; print one JSON
                                       line {"code": N, "message": "..."}
"""
import json
import smtplib
import sys
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid


def base(subject):
    m = EmailMessage(policy=SMTP)
    m["From"] = "Alice Example <alice@example.com>"
    m["To"] = "Bob Example <bob@example.org>"
    m["Subject"] = subject
    m["Date"] = formatdate(localtime=False)
    m["Message-ID"] = make_msgid(domain="example.com")
    return m


def gen(kind):
    if kind == "attachment":
        m = base("Quarterly report")
        m.set_content("Hello Bob,\n\nthe report is attached.\n")
        m.add_attachment(bytes(range(256)) * 64, maintype="application",
                         subtype="octet-stream", filename="report.bin")
    elif kind == "plain":
        m = base("plain")
        m.set_content("just text\n")
    elif kind == "nested":
        m = base("nested")
        m.set_content("plain part\n")
        m.add_alternative("<p>html part</p>\n", subtype="html")
        inner = base("forwarded")
        inner.set_content("the forwarded one\n")
        m.add_attachment(inner)
    elif kind == "international":
        m = base("Grüße aus Köln")
        m.replace_header("From", "Jürgen Müller <juergen@example.com>")
        m.set_content("Schöne Grüße\n", charset="utf-8", cte="quoted-printable")
        m.add_attachment(b"data" * 100, maintype="application", subtype="pdf",
                         filename="Übersicht.pdf")
    else:
        raise SystemExit(f"unknown kind {kind}")
    return m.as_bytes()


def send(port, path, sender, rcpts):
    """Send with smtplib's own MAIL/RCPT/DATA so the final reply is visible."""
    data = open(path, "rb").read()
    try:
        with smtplib.SMTP("127.0.0.1", int(port), timeout=60) as s:
            s.ehlo("client.example")
            code, msg = s.mail(sender)
            for r in rcpts:
                if code == 250:
                    code, msg = s.rcpt(r)
            if code == 250:
                code, msg = s.data(data)
    except smtplib.SMTPResponseException as e:
        code, msg = e.smtp_code, e.smtp_error
    print(json.dumps({"code": code, "message": msg.decode(errors="replace")}))


def main(argv):
    if len(argv) >= 3 and argv[1] == "gen":
        open(argv[3], "wb").write(gen(argv[2]))
    elif len(argv) >= 4 and argv[1] == "send":
        args = argv[4:]
        sender, rcpts = "alice@example.com", []
        while args:
            opt, val, args = args[0], args[1], args[2:]
            if opt == "--from":
                sender = val
            elif opt == "--to":
                rcpts.append(val)
        send(argv[2], argv[3], sender, rcpts or ["bob@example.org"])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
