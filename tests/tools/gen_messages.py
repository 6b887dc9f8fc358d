#!/usr/bin/python3
"""gen_messages.py OUTDIR - write a variety of valid messages, built with
Python's email package, as OUTDIR/NN-name.eml (LF line endings, as Python's
generator writes them). tests/validate/test-validate.c runs it and expects
every message to be accepted by the validator under the strict policy."""

import os
import sys
from email import policy
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid, formataddr
from email import encoders

DATE = formatdate(1700000000, localtime=False)


def base(msg, subject, frm="Alice Example <alice@example.org>", to="bob@example.net"):
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = DATE
    msg["Message-ID"] = make_msgid(domain="example.org")
    return msg


def plain():
    m = base(EmailMessage(), "plain text")
    m.set_content("Hello Bob,\n\nthis is a plain message.\n-- \nAlice\n")
    return m


def utf8_body():
    m = base(EmailMessage(), "Grüße aus Köln")
    m.set_content("Grüße, €100 für das Café.\n")          # becomes QP or base64
    return m


def non_ascii_names():
    m = EmailMessage()
    m["From"] = formataddr(("Jürgen Müller", "juergen@example.de"))
    m["To"] = formataddr(("Zoë Ångström", "zoe@example.se")) + ", plain@example.com"
    m["Cc"] = "undisclosed-recipients:;"
    m["Subject"] = "Ünïcödé subject that is long enough to need folding across lines " * 2
    m["Date"] = DATE
    m["Message-ID"] = make_msgid(domain="example.de")
    m.set_content("Body.\n")
    return m


def attachments():
    m = base(EmailMessage(), "with attachments")
    m.set_content("See attached.\n")
    m.add_alternative("<p>See <b>attached</b>.</p>\n", subtype="html")
    m.add_attachment(bytes(range(256)) * 40, maintype="application",
                     subtype="octet-stream", filename="data.bin")
    m.add_attachment("a,b\n1,2\n", subtype="csv", filename="table.csv")
    m.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf",
                     filename="Rechnung für März.pdf")
    m.add_attachment(b"x" * 10, maintype="application", subtype="octet-stream",
                     filename="日本語のファイル名がとても長い場合のテスト資料.txt")
    return m


def nested():
    outer = MIMEMultipart("mixed")
    base(outer, "nested multiparts")
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText("plain part\n", "plain", "utf-8"))
    related = MIMEMultipart("related")
    related.attach(MIMEText("<img src=cid:x>\n", "html"))
    img = MIMEBase("image", "png")
    img.set_payload(b"\x89PNG\r\n\x1a\n" + bytes(500))
    encoders.encode_base64(img)
    img.add_header("Content-ID", "<x@example.org>")
    related.attach(img)
    alt.attach(related)
    outer.attach(alt)
    outer.attach(MIMEApplication(b"\x00\x01binary", Name="blob.dat"))
    return outer


def forwarded():
    inner = plain()
    outer = EmailMessage()
    base(outer, "Fwd: plain text")
    outer.set_content("Forwarding this:\n")
    outer.add_attachment(inner)             # message/rfc822
    trimmed = EmailMessage()                # forwarded mail without Date/From
    trimmed["Subject"] = "trimmed"
    trimmed.set_content("only a subject\n")
    outer.add_attachment(trimmed)
    return outer


def mime_message_part():
    outer = MIMEMultipart()
    base(outer, "legacy MIMEMessage")
    outer.attach(MIMEText("see below", "plain"))
    outer.attach(MIMEMessage(utf8_body()))
    return outer


def preamble_epilogue():
    m = MIMEMultipart()
    base(m, "preamble and epilogue")
    m.preamble = "This is a multi-part message in MIME format.\n"
    m.epilogue = "That was all.\n"
    m.attach(MIMEText("one", "plain"))
    m.attach(MIMEText("two", "plain"))
    return m


def empty_preamble():
    m = MIMEMultipart()
    base(m, "empty preamble")
    m.preamble = ""
    m.epilogue = ""
    m.attach(MIMEText("only part", "plain"))
    return m


def quoted_printable():
    m = base(EmailMessage(), "qp body")
    m.set_content("Long line with = signs and trailing spaces   \n" + "x" * 200 + "\n",
                  cte="quoted-printable")
    return m


def base64_text():
    m = base(EmailMessage(), "base64 text")
    m.set_content("Ünicode text in base64\n" * 20, cte="base64")
    return m


def groups_and_lists():
    m = EmailMessage()
    m["From"] = "a@example.org, b@example.org"
    m["Sender"] = "a@example.org"
    m["To"] = "Team: c@example.org, \"D. Person\" <d@example.org>;, e@example.org"
    m["Reply-To"] = "list@example.org"
    m["Subject"] = "groups"
    m["Date"] = DATE
    m["Message-ID"] = make_msgid(domain="example.org")
    m.set_content("hi\n")
    return m


def legacy_api():
    m = MIMEText("legacy API body ärger", "plain", "iso-8859-1")
    m["From"] = "legacy@example.org"
    m["To"] = "x@example.org"
    m["Subject"] = "legacy"
    m["Date"] = DATE
    return m


BUILDERS = [plain, utf8_body, non_ascii_names, attachments, nested, forwarded,
            mime_message_part, preamble_epilogue, empty_preamble, quoted_printable,
            base64_text, groups_and_lists, legacy_api]


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for i, build in enumerate(BUILDERS):
        msg = build()
        pol = policy.SMTP.clone(linesep="\n") if isinstance(msg, EmailMessage) else None
        data = msg.as_bytes(policy=pol) if pol else msg.as_bytes()
        with open(os.path.join(out, "%02d-%s.eml" % (i, build.__name__)), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
