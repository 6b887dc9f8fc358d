#!/usr/bin/python3
"""Composer: Python's email package, policy.default and compat32 (and GMime via
gobject-introspection). usage: python_email.py OUTDIR WORKDIR"""
import os
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.header import Header
from email.utils import formatdate, make_msgid, formataddr

OUT, WORK = sys.argv[1], sys.argv[2]
LONG = ("Réunion trimestrielle : résultats, prévisions budgétaires et planification "
        "stratégique pour l'année 2027 – équipe Europe du Sud")
BODY = "Bonjour Zoë,\n\nVoici le résumé de la réunion de jeudi. À bientôt,\nJürgen\n"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5b2d0d10000000049454e44ae426082")
ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//spoolgate corpus//EN\r\nMETHOD:REQUEST\r\n"
       "BEGIN:VEVENT\r\nUID:20261201T100000Z-1@example.org\r\nDTSTAMP:20261201T090000Z\r\n"
       "DTSTART:20261203T100000Z\r\nDTEND:20261203T110000Z\r\nSUMMARY:Réunion budget\r\n"
       "ORGANIZER;CN=Jürgen:mailto:juergen@example.org\r\n"
       "ATTENDEE;RSVP=TRUE;CN=Zoë:mailto:zoe@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def save(name, data):
    with open(os.path.join(OUT, name + ".eml"), "wb") as f:
        f.write(data)


def base(m, subject, sender="Jürgen Groß <juergen@example.org>"):
    m["From"] = sender
    if isinstance(m, EmailMessage):
        m["To"] = "Zoë Müller <zoe@example.net>"
    else:  # compat32 writes header strings as they are: encode them first
        m["To"] = formataddr(("Zoë Müller", "zoe@example.net"), charset="utf-8")
    m["Subject"] = subject
    m["Date"] = formatdate(1764583200, localtime=False)
    m["Message-ID"] = make_msgid(domain="example.org")
    return m


# --- policy.default
m = base(EmailMessage(), "Quarterly figures")
m.set_content("Hello,\n\nthe figures are attached.\n")
save("python-default--ascii", m.as_bytes())

m = base(EmailMessage(), "Résumé de la réunion")
m.set_content(BODY)
save("python-default--utf8", m.as_bytes())

m = base(EmailMessage(), LONG)
m.set_content(BODY)
save("python-default--long-subject", m.as_bytes())

m = base(EmailMessage(), "CV")
m.set_content(BODY)
m.add_attachment(PDF, maintype="application", subtype="pdf", filename="Résumé 2026.pdf")
save("python-default--attachment-utf8-name", m.as_bytes())

m = base(EmailMessage(), "Übersicht")
m.set_content(BODY)
m.add_attachment(PDF, maintype="application", subtype="pdf",
                 filename="Übersicht der Quartalsergebnisse und Prognosen für das Geschäftsjahr 2027 – endgültige Fassung.pdf")
save("python-default--attachment-long-utf8-name", m.as_bytes())

m = base(EmailMessage(), "Newsletter décembre")
m.set_content("Plain version: see the picture.\n")
m.add_alternative('<html><body><p>Voilà :</p><img src="cid:logo@example.org"></body></html>', subtype="html")
m.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@example.org>", filename="logo.png")
save("python-default--html-inline-image", m.as_bytes())

m = base(EmailMessage(), "Invitation: Réunion budget")
m.set_content("You are invited.\n")
m.add_alternative(ICS, subtype="calendar", params={"method": "REQUEST"})
save("python-default--calendar", m.as_bytes())

m = base(EmailMessage(), "header only")
data = m.as_bytes()
assert data.endswith(b"\n\n")
save("python-default--header-only-no-blank-line", data[:-1])

# --- compat32
m = MIMEText("Hello,\n\nplain ASCII from compat32.\n")
base(m, "compat32 ascii", sender="juergen@example.org")
save("python-compat32--ascii", m.as_bytes())

m = MIMEText(BODY, "plain", "utf-8")
base(m, "x", sender=formataddr((str(Header("Jürgen Groß", "utf-8")), "juergen@example.org")))
del m["Subject"]
m["Subject"] = Header(LONG, "utf-8")
save("python-compat32--long-subject", m.as_bytes())

m = MIMEMultipart()
base(m, "compat32 attachment", sender="juergen@example.org")
m.attach(MIMEText(BODY, "plain", "utf-8"))
a = MIMEApplication(PDF, "pdf")
a.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "Résumé 2026.pdf"))
m.attach(a)
save("python-compat32--attachment-rfc2231", m.as_bytes())

m = MIMEMultipart("related")
base(m, "compat32 html", sender="juergen@example.org")
alt = MIMEMultipart("alternative")
alt.attach(MIMEText("see picture", "plain"))
alt.attach(MIMEText('<p>Grüße <img src="cid:img1"></p>', "html", "utf-8"))
m.attach(alt)
img = MIMEImage(PNG, "png")
img.add_header("Content-ID", "<img1>")
img.add_header("Content-Disposition", "inline", filename="bild.png")
m.attach(img)
save("python-compat32--html-inline-image", m.as_bytes())

# --- S/MIME signed (openssl smime -sign), with a throwaway certificate
key, cert = os.path.join(WORK, "smime.key"), os.path.join(WORK, "smime.crt")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                "-subj", "/CN=juergen@example.org", "-keyout", key, "-out", cert],
               check=True, capture_output=True)
inner = os.path.join(WORK, "smime-in.txt")
with open(inner, "wb") as f:
    f.write("Content-Type: text/plain; charset=utf-8\n\n".encode() + BODY.encode())
signed = subprocess.run(["openssl", "smime", "-sign", "-in", inner, "-signer", cert, "-inkey", key,
                         "-from", "juergen@example.org", "-to", "zoe@example.net",
                         "-subject", "S/MIME signed"], check=True, capture_output=True).stdout
hdr = ("Date: %s\nMessage-ID: %s\n" % (formatdate(1764583200), make_msgid(domain="example.org"))).encode()
save("openssl-smime--signed-8bit-text", hdr + signed.replace(b"\r\n", b"\n"))

# --- PGP/MIME signed (RFC 3156) with gpg and a throwaway home
home = os.path.join(WORK, "gnupg")
os.makedirs(home, mode=0o700, exist_ok=True)
gpg = ["gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
subprocess.run(gpg + ["--quick-gen-key", "Jürgen <juergen@example.org>", "ed25519", "sign", "1d"],
               check=True, capture_output=True)
part = MIMEText(BODY, "plain")
part.set_charset("utf-8")
del part["MIME-Version"]
part_bytes = part.as_bytes(policy=policy.SMTP)
sig = subprocess.run(gpg + ["--detach-sign", "--armor", "--digest-algo", "SHA256"],
                     input=part_bytes, check=True, capture_output=True).stdout
from email.mime.base import MIMEBase
from email.parser import BytesParser
outer = MIMEMultipart("signed", micalg="pgp-sha256", protocol="application/pgp-signature")
base(outer, "PGP/MIME signed", sender="juergen@example.org")
outer.attach(BytesParser(policy=policy.compat32).parsebytes(part_bytes))
s = MIMEBase("application", "pgp-signature", name="signature.asc")
s.set_payload(sig.decode())
outer.attach(s)
save("gpg--pgp-mime-signed", outer.as_bytes(policy=policy.compat32.clone(linesep="\r\n")).replace(b"\r\n", b"\n"))

# --- GMime (the library spoolgate builds on), through gobject-introspection
try:
    import gi
    gi.require_version("GMime", "3.0")
    from gi.repository import GMime
    GMime.init()

    def gm_message(subject, body_part):
        msg = GMime.Message.new(True)
        msg.add_mailbox(GMime.AddressType.FROM, "Jürgen Groß", "juergen@example.org")
        msg.add_mailbox(GMime.AddressType.TO, "Zoë Müller", "zoe@example.net")
        msg.set_subject(subject, "utf-8")
        msg.set_message_id("gmime.%s@example.org" % abs(hash(subject)))
        msg.set_date(GMime.utils_header_decode_date("Tue, 1 Dec 2026 10:00:00 +0000"))
        msg.set_mime_part(body_part)
        return msg

    def gm_text(text, subtype="plain"):
        p = GMime.TextPart.new_with_subtype(subtype)
        p.set_text(text)
        return p

    def gm_save(name, msg):
        opts = GMime.FormatOptions.new()
        opts.set_newline_format(GMime.NewLineFormat.UNIX)
        stream = GMime.StreamMem.new()
        msg.write_to_stream(opts, stream)
        save(name, bytes(stream.get_byte_array()))

    gm_save("gmime--utf8", gm_message("Résumé de la réunion", gm_text(BODY)))
    gm_save("gmime--long-subject", gm_message(LONG, gm_text(BODY)))
    mp = GMime.Multipart.new_with_subtype("mixed")
    mp.add(gm_text(BODY))
    att = GMime.Part.new_with_type("application", "pdf")
    att.set_filename("Résumé 2026.pdf")
    att.set_content(GMime.DataWrapper.new_with_stream(GMime.StreamMem.new_with_buffer(PDF),
                                                      GMime.ContentEncoding.DEFAULT))
    att.set_content_encoding(GMime.ContentEncoding.BASE64)
    mp.add(att)
    gm_save("gmime--attachment-utf8-name", gm_message("CV", mp))
    alt = GMime.Multipart.new_with_subtype("alternative")
    alt.add(gm_text("plain text"))
    alt.add(gm_text("<p>Grüße</p>", "html"))
    gm_save("gmime--alternative", gm_message("Newsletter", alt))
except Exception as e:  # noqa: BLE001
    print("make-corpus: GMime composer skipped: %s" % e, file=sys.stderr)
