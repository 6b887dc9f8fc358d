#!/usr/bin/python3
"""Composer matrix: Python's email (policy.default, compat32) and GMime (through
gobject-introspection) over the charsets, structures and sizes real mail
varies in; plus openssl smime/cms and gpg for signed and encrypted mail.
Deterministic where the composers allow (seeded boundaries, fixed ids/dates).
usage: python_matrix.py OUTDIR WORKDIR"""
import io
import os
import random
import subprocess
import sys
import zipfile
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.utils import formataddr

random.seed(12)   # email.generator draws its boundaries from random
OUT, WORK = sys.argv[1], sys.argv[2]
DATE = "Tue, 01 Dec 2026 10:00:00 +0000"

# (tag, charset, display name, subject, body, attachment name)
LANGS = [
    ("utf8", "utf-8", "Jürgen Groß", "Résumé de la réunion – coût 50 €",
     "Bonjour Zoë,\n\nvoici le résumé. Coût : 50 €.\nÀ bientôt,\nJürgen\n", "Résumé 2026.pdf"),
    ("latin1", "iso-8859-1", "François Müller", "Réunion du comité : ordre du jour",
     "Bonjour,\n\nl'ordre du jour de la réunion est joint. Ça va être long.\n", "Ordre du jour.pdf"),
    ("latin9", "iso-8859-15", "Œdipe Lefèvre", "Facture n° 2026-12 : 1 250 € à régler",
     "Madame,\n\nveuillez trouver la facture (1 250 €) ci-jointe.\n", "Facture déc.pdf"),
    ("cp1252", "windows-1252", "Søren Kierkegaard", "“Quarterly” report – final…",
     "Hi,\n\nthe “final” version – with the € figures… attached.\n", "Report – final.pdf"),
    ("iso2022jp", "iso-2022-jp", "山田 太郎", "会議の議事録について",
     "各位\n\n先日の会議の議事録を添付します。ご確認ください。\n山田\n", "議事録.pdf"),
    ("sjis", "shift_jis", "鈴木 花子", "見積書の送付について",
     "お世話になっております。\n見積書を送付いたします。\n", "見積書.pdf"),
    ("gb2312", "gb2312", "王小明", "关于季度会议的纪要",
     "各位同事：\n\n请查收本季度会议纪要。\n王小明\n", "会议纪要.pdf"),
    ("gbk", "gbk", "李娜", "年度预算草案（请审阅）",
     "您好：\n\n附件是年度预算草案，请审阅。\n", "预算草案.pdf"),
    ("koi8r", "koi8-r", "Иван Петров", "Протокол совещания",
     "Коллеги,\n\nпротокол совещания во вложении.\nИван\n", "Протокол.pdf"),
    ("big5", "big5", "陳大文", "關於季度會議的紀要",
     "各位同事：\n\n請查收本季度會議紀要。\n陳大文\n", "會議紀要.pdf"),
]
LONGTAIL = {
    "utf-8": " : résultats, prévisions budgétaires et planification stratégique pour l'année 2027 – équipe Europe du Sud",
    "iso-8859-1": " : résultats, prévisions budgétaires et planification stratégique pour l'année 2027, équipe Europe du Sud",
    "iso-8859-15": " : résultats, prévisions budgétaires et planification stratégique pour l'année 2027 (€)",
    "windows-1252": " – results, forecasts and “strategic” planning for 2027… southern Europe team",
    "iso-2022-jp": "、および来年度の予算計画と人員配置に関する検討事項の一覧（最終版）",
    "shift_jis": "、および来年度の予算計画と人員配置に関する検討事項の一覧（最終版）",
    "gb2312": "，以及明年预算计划和人员配置的讨论事项清单（最终版）",
    "gbk": "，以及明年预算计划和人员配置的讨论事项清单（最终版）",
    "koi8-r": ", планирование бюджета на следующий год и распределение сотрудников (окончательная версия)",
    "big5": "，以及明年預算計畫和人員配置的討論事項清單（最終版）",
}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5b2d0d10000000049454e44ae426082")
ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//spoolgate corpus//EN\r\nMETHOD:REQUEST\r\n"
       "BEGIN:VEVENT\r\nUID:{uid}@example.org\r\nDTSTAMP:20261201T090000Z\r\n"
       "DTSTART:20261203T100000Z\r\nDTEND:20261203T110000Z\r\nSUMMARY:{summary}\r\n"
       "ORGANIZER;CN=Jürgen:mailto:juergen@example.org\r\n"
       "ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION;CN=Zoë:mailto:zoe@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
rng = random.Random(7)
BLOB = bytes(rng.randrange(256) for _ in range(48 * 1024))


def zipped(files):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            zi = zipfile.ZipInfo(name, date_time=(2026, 12, 1, 10, 0, 0))
            z.writestr(zi, data)
    return b.getvalue()


ZIP = zipped([("report.txt", "figures\n" * 200), ("données.csv", "a;b\n1;2\n")])
N = [0]


def save(name, data):
    N[0] += 1
    with open(os.path.join(OUT, name + ".eml"), "wb") as f:
        f.write(data)


def head(m, subject, tag, name="Jürgen Groß", charset="utf-8"):
    if isinstance(m, EmailMessage):
        m["From"] = formataddr((name, "sender@example.org"))
        m["To"] = "Zoë Müller <zoe@example.net>"
        m["Subject"] = subject
    else:
        m["From"] = formataddr((str(Header(name, charset)), "sender@example.org"))
        m["To"] = "zoe@example.net"
        m["Subject"] = Header(subject, charset)
    m["Date"] = DATE
    m["Message-ID"] = "<%s@corpus.example.org>" % tag
    return m


# ---------------------------------------------------------------- compat32
for tag, cs, name, subj, body, fname in LANGS:
    p = "python-compat32"
    m = MIMEText(body, "plain", cs)
    save("%s--%s-text" % (p, tag), head(m, subj, p + tag + "1", name, cs).as_bytes())
    m = MIMEText(body, "plain", cs)
    save("%s--%s-long-subject" % (p, tag), head(m, subj + LONGTAIL[cs], p + tag + "2", name, cs).as_bytes())
    m = MIMEMultipart()
    head(m, subj, p + tag + "3", name, cs)
    m.attach(MIMEText(body, "plain", cs))
    a = MIMEApplication(PDF, "pdf")
    a.add_header("Content-Disposition", "attachment", filename=(cs, "", fname))
    m.attach(a)
    save("%s--%s-attachment-rfc2231" % (p, tag), m.as_bytes())
    m = MIMEMultipart("alternative")
    head(m, subj, p + tag + "4", name, cs)
    m.attach(MIMEText(body, "plain", cs))
    m.attach(MIMEText("<html><body><p>%s</p></body></html>" % body.replace("\n", "<br>"), "html", cs))
    save("%s--%s-alternative" % (p, tag), m.as_bytes())

# ---------------------------------------------------------------- policy.default
for tag, cs, name, subj, body, fname in LANGS:
    p = "python-default"
    m = head(EmailMessage(), subj, p + tag + "1", name)
    m.set_content(body, charset=cs)
    save("%s--%s-text" % (p, tag), m.as_bytes())
    m = head(EmailMessage(), subj + LONGTAIL[cs], p + tag + "2", name)
    m.set_content(body)
    m.add_attachment(PDF, maintype="application", subtype="pdf", filename=fname)
    save("%s--%s-long-subject-attachment" % (p, tag), m.as_bytes())
for cte in ("7bit", "8bit", "quoted-printable", "base64"):
    m = head(EmailMessage(), "Transfer encoding %s" % cte, "pd-cte-" + cte)
    text = "Plain ASCII line.\n" if cte == "7bit" else "Grüße aus Köln – naïve café.\n" * 3
    m.set_content(text, cte=cte)
    save("python-default--cte-%s" % cte, m.as_bytes())

p = "python-default"
m = head(EmailMessage(), "flowed", "pd-flowed")
m.set_content("This paragraph is long enough that a format=flowed composer would wrap it across several "
              "lines with a trailing space at the end of each soft line break. \nSecond line.\n")
m.replace_header("Content-Type", 'text/plain; charset="utf-8"; format=flowed; delsp=no')
save(p + "--format-flowed", m.as_bytes())

m = head(EmailMessage(), "empty body", "pd-empty")
m.set_content("")
save(p + "--empty-body", m.as_bytes())

m = head(EmailMessage(), "only attachments", "pd-only-att")
m.make_mixed()
for i, (data, mt, st, fn) in enumerate([(PDF, "application", "pdf", "a.pdf"), (ZIP, "application", "zip", "archive.zip"),
                                        (PNG, "image", "png", "pixel.png")]):
    m.add_attachment(data, maintype=mt, subtype=st, filename=fn)
save(p + "--only-attachments", m.as_bytes())

for size, label in ((1024, "1k"), (48 * 1024, "48k")):
    m = head(EmailMessage(), "binary %s" % label, "pd-bin-" + label)
    m.set_content("Binary attached.\n")
    m.add_attachment(BLOB[:size], maintype="application", subtype="octet-stream", filename="data-%s.bin" % label)
    save("%s--binary-%s" % (p, label), m.as_bytes())

m = head(EmailMessage(), "zip and text attachments", "pd-zip")
m.set_content("Archive and notes attached.\n")
m.add_attachment(ZIP, maintype="application", subtype="zip", filename="Données 2026.zip")
m.add_attachment("notes\n" * 40, subtype="plain", filename="notes.txt")
m.add_attachment("a,b,c\n1,2,3\n", subtype="csv", filename="tableau.csv")
save(p + "--zip-text-csv", m.as_bytes())

# HTML + inline cid image + attachment: mixed(related(alternative))
m = head(EmailMessage(), "Newsletter de décembre", "pd-mixed-related-alt")
m.set_content("Version texte.\n")
m.add_alternative('<html><body><p>Voilà <img src="cid:logo@corpus.example.org"> et '
                  '<img src="cid:photo@corpus.example.org"></p></body></html>', subtype="html")
m.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@corpus.example.org>", filename="logo.png")
m.get_payload()[1].add_related(PNG, "image", "png", cid="<photo@corpus.example.org>", filename="photo été.png")
m.add_attachment(PDF, maintype="application", subtype="pdf", filename="programme.pdf")
save(p + "--mixed-related-alternative", m.as_bytes())

# calendar invitations: alternative with text/calendar method=REQUEST, and as an attachment too
for i, (cs, summary) in enumerate((("utf-8", "Réunion budget"), ("utf-8", "会議"), ("utf-8", "Budget meeting"))):
    m = head(EmailMessage(), "Invitation: %s" % summary, "pd-cal%d" % i)
    m.set_content("You are invited: %s\n" % summary)
    ics = ICS.format(uid="pd-cal%d" % i, summary=summary)
    m.add_alternative(ics, subtype="calendar", params={"method": "REQUEST"})
    if i == 2:
        m.add_attachment(ics.encode(), maintype="application", subtype="ics", filename="invite.ics")
    save("%s--calendar-%d" % (p, i), m.as_bytes())

# forwards: message/rfc822 inline, as attachment, and nested 3-4 deep
inner = head(EmailMessage(), "Original: Résumé", "pd-inner")
inner.set_content("The original text.\n")
inner.add_attachment(PDF, maintype="application", subtype="pdf", filename="orig.pdf")
m = head(EmailMessage(), "Fwd: Original: Résumé", "pd-fwd-inline")
m.set_content("See the forwarded message below.\n")
m.add_attachment(inner, disposition="inline")
save(p + "--forward-rfc822-inline", m.as_bytes())
m = head(EmailMessage(), "Fwd: as attachment", "pd-fwd-att")
m.set_content("Forwarded as an attachment.\n")
m.add_attachment(inner, filename="Original Résumé.eml")
save(p + "--forward-rfc822-attachment", m.as_bytes())
m = head(EmailMessage(), "Fwd: raw .eml", "pd-fwd-octet")
m.set_content("The .eml file, as octets.\n")
m.add_attachment(inner.as_bytes(), maintype="application", subtype="octet-stream", filename="original.eml")
save(p + "--forward-eml-octet-stream", m.as_bytes())
fwd2 = head(EmailMessage(), "Fwd: Fwd: Original", "pd-fwd2")
fwd2.set_content("Second forward.\n")
fwd2.add_attachment(m)
m = head(EmailMessage(), "Fwd: Fwd: Fwd: Original", "pd-fwd3")
m.set_content("Third level.\n")
m.add_attachment(fwd2)
save(p + "--forward-nested-3", m.as_bytes())

# nested multiparts 4 deep, compat32
m = MIMEMultipart("mixed")
head(m, "nested four deep", "c32-nested", "Jürgen Groß")
rel = MIMEMultipart("related")
alt = MIMEMultipart("alternative")
alt.attach(MIMEText("plain\n", "plain", "utf-8"))
alt2 = MIMEMultipart("alternative")
alt2.attach(MIMEText("<p>html</p>", "html", "utf-8"))
alt2.attach(MIMEText("enriched", "enriched", "us-ascii"))
alt.attach(alt2)
rel.attach(alt)
img = MIMEBase("image", "png")
img.set_payload(PNG)
from email import encoders
encoders.encode_base64(img)
img.add_header("Content-ID", "<n4@corpus.example.org>")
rel.attach(img)
m.attach(rel)
m.attach(MIMEApplication(ZIP, "zip", Name="a.zip"))
save("python-compat32--nested-4-deep", m.as_bytes())

# forwarded as message/rfc822 by compat32, and the legacy MIMEMessage
m = MIMEMultipart()
head(m, "Fwd: compat32", "c32-fwd")
m.attach(MIMEText("Forwarded.\n"))
m.attach(MIMEMessage(BytesParser(policy=policy.compat32).parsebytes(inner.as_bytes())))
save("python-compat32--forward-rfc822", m.as_bytes())

# mailing-list style, reply chain with long References, long To header folded by the composer
refs = " ".join("<thread.%d.%s@lists.example.org>" % (i, "x" * 20) for i in range(30))
m = head(EmailMessage(), "Re: [dev] Proposal: rewrite the queue runner in a weekend (was: Re: plans)", "pd-list")
m["In-Reply-To"] = "<thread.29.%s@lists.example.org>" % ("x" * 20)
m["References"] = refs
m["List-Id"] = "Developers <dev.lists.example.org>"
m["List-Unsubscribe"] = "<mailto:dev-leave@lists.example.org>, <https://lists.example.org/unsub/dev>"
m["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
m["List-Post"] = "<mailto:dev@lists.example.org>"
m["List-Archive"] = "<https://lists.example.org/archive/dev/>"
m["Precedence"] = "list"
m["Cc"] = ", ".join("Membre Numéro %d <member%d@example.net>" % (i, i) for i in range(40))
m.set_content("> > quoted\n> quoted again\n\nMy reply.\n")
save(p + "--mailing-list-long-references", m.as_bytes())
m = MIMEText("reply\n")
head(m, "Re: Re: Re: Fwd: Re: status", "c32-refs")
m["References"] = refs
del m["To"]
m["To"] = ", ".join("user%d@example.net" % i for i in range(60))
save("python-compat32--long-references-to", m.as_bytes())

# ---------------------------------------------------------------- S/MIME and CMS
key, cert = os.path.join(WORK, "mx.key"), os.path.join(WORK, "mx.crt")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                "-subj", "/CN=sender@example.org", "-keyout", key, "-out", cert],
               check=True, capture_output=True)
hdr = ("Date: %s\nMessage-ID: <%%s@corpus.example.org>\n" % DATE)


def smime(tool, args, inner_bytes, tag, subject, tail=()):
    src = os.path.join(WORK, "in-" + tag)
    with open(src, "wb") as f:
        f.write(inner_bytes)
    out = subprocess.run(["openssl", tool] + args + ["-in", src, "-from", "sender@example.org",
                                                    "-to", "zoe@example.net", "-subject", subject] + list(tail),
                         check=True, capture_output=True).stdout
    save("openssl-%s--%s" % (tool, tag), (hdr % tag).encode() + out.replace(b"\r\n", b"\n"))


inner_txt = b"Content-Type: text/plain; charset=us-ascii\n\nSigned text.\n"
inner_mp = EmailMessage(policy=policy.default.clone(linesep="\r\n"))
inner_mp.set_content("Signed with an attachment.\n")
inner_mp.add_attachment(PDF, maintype="application", subtype="pdf", filename="contract.pdf")
inner_mp = inner_mp.as_bytes()
smime("smime", ["-sign", "-signer", cert, "-inkey", key], inner_txt, "signed-detached", "S/MIME detached")
smime("smime", ["-sign", "-nodetach", "-signer", cert, "-inkey", key], inner_txt, "signed-opaque", "S/MIME opaque")
smime("smime", ["-sign", "-signer", cert, "-inkey", key], inner_mp, "signed-attachment", "S/MIME signed attachment")
smime("smime", ["-encrypt", "-aes256"], inner_txt, "encrypted", "S/MIME encrypted", [cert])
smime("cms", ["-sign", "-signer", cert, "-inkey", key], inner_txt, "signed-detached", "CMS detached")
smime("cms", ["-sign", "-nodetach", "-signer", cert, "-inkey", key], inner_mp, "signed-opaque", "CMS opaque")
smime("cms", ["-encrypt", "-aes256", "-recip", cert], inner_mp, "encrypted", "CMS encrypted")

# ---------------------------------------------------------------- PGP/MIME (RFC 3156)
home = os.path.join(WORK, "gnupg-matrix")
os.makedirs(home, mode=0o700, exist_ok=True)
gpg = ["gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quiet"]
subprocess.run(gpg + ["--quick-gen-key", "Zoë <zoe@example.net>", "ed25519", "sign", "1d"], check=True, capture_output=True)
fpr = subprocess.run(gpg + ["--list-keys", "--with-colons"], check=True, capture_output=True, text=True).stdout
fpr = [l.split(":")[9] for l in fpr.splitlines() if l.startswith("fpr")][0]
subprocess.run(gpg + ["--quick-add-key", fpr, "cv25519", "encr", "1d"], check=True, capture_output=True)
for tag, content in (("signed-attachment", inner_mp), ("encrypted", inner_txt.replace(b"\n", b"\r\n")),
                     ("encrypted-attachment", inner_mp)):
    if tag.startswith("signed"):
        sig = subprocess.run(gpg + ["--detach-sign", "--armor"], input=content, check=True, capture_output=True).stdout
        outer = MIMEMultipart("signed", micalg="pgp-sha512", protocol="application/pgp-signature")
        outer.attach(BytesParser(policy=policy.compat32).parsebytes(content))
        s = MIMEBase("application", "pgp-signature", name="signature.asc")
        s.set_payload(sig.decode())
        outer.attach(s)
    else:
        enc = subprocess.run(gpg + ["--encrypt", "--armor", "--trust-model", "always", "-r", "zoe@example.net"],
                             input=content, check=True, capture_output=True).stdout
        outer = MIMEMultipart("encrypted", protocol="application/pgp-encrypted")
        v = MIMEBase("application", "pgp-encrypted")
        v.set_payload("Version: 1\n")
        outer.attach(v)
        e = MIMEBase("application", "octet-stream", name="encrypted.asc")
        e.set_payload(enc.decode())
        outer.attach(e)
    head(outer, "PGP/MIME %s" % tag, "gpg-" + tag)
    save("gpg--pgp-mime-%s" % tag, outer.as_bytes())
sig = subprocess.run(gpg + ["--clearsign"], input="Grüße, inline PGP.\n".encode(), check=True, capture_output=True).stdout
m = MIMEText(sig.decode(), "plain", "utf-8")
head(m, "inline PGP", "gpg-inline")
save("gpg--inline-clearsigned", m.as_bytes())

# ---------------------------------------------------------------- GMime
try:
    import gi
    gi.require_version("GMime", "3.0")
    from gi.repository import GMime
    GMime.init()

    def gm_save(name, msg):
        opts = GMime.FormatOptions.new()
        opts.set_newline_format(GMime.NewLineFormat.UNIX)
        stream = GMime.StreamMem.new()
        msg.write_to_stream(opts, stream)
        save("gmime--" + name, bytes(stream.get_byte_array()))

    def gm_message(subject, part, tag, name="Jürgen Groß", cs="utf-8"):
        msg = GMime.Message.new(True)
        msg.add_mailbox(GMime.AddressType.FROM, name, "sender@example.org")
        msg.add_mailbox(GMime.AddressType.TO, "Zoë Müller", "zoe@example.net")
        msg.set_subject(subject, cs)
        msg.set_message_id("gmime-%s@corpus.example.org" % tag)
        msg.set_date(GMime.utils_header_decode_date(DATE))
        msg.set_mime_part(part)
        return msg

    def gm_text(text, subtype="plain", cs=None):
        p = GMime.TextPart.new_with_subtype(subtype)
        p.set_text(text)
        if cs:
            p.set_charset(cs)
        return p

    def gm_att(data, mt, st, fn, enc=GMime.ContentEncoding.BASE64):
        a = GMime.Part.new_with_type(mt, st)
        a.set_filename(fn)
        a.set_content(GMime.DataWrapper.new_with_stream(GMime.StreamMem.new_with_buffer(data),
                                                        GMime.ContentEncoding.DEFAULT))
        a.set_content_encoding(enc)
        return a

    for tag, cs, name, subj, body, fname in LANGS:
        gm_save("%s-text" % tag, gm_message(subj, gm_text(body), "t" + tag, name, cs))
        mp = GMime.Multipart.new_with_subtype("mixed")
        mp.add(gm_text(body))
        mp.add(gm_att(PDF, "application", "pdf", fname))
        gm_save("%s-long-subject-attachment" % tag, gm_message(subj + LONGTAIL[cs], mp, "l" + tag, name, cs))
    rel = GMime.Multipart.new_with_subtype("related")
    alt = GMime.Multipart.new_with_subtype("alternative")
    alt.add(gm_text("plain text"))
    alt.add(gm_text('<p>Grüße <img src="cid:px@corpus.example.org"></p>', "html"))
    rel.add(alt)
    img = gm_att(PNG, "image", "png", "px.png")
    img.set_content_id("px@corpus.example.org")
    rel.add(img)
    mix = GMime.Multipart.new_with_subtype("mixed")
    mix.add(rel)
    mix.add(gm_att(ZIP, "application", "zip", "archive.zip"))
    mix.add(gm_att(BLOB[:8192], "application", "octet-stream", "blob.bin"))
    gm_save("mixed-related-alternative", gm_message("HTML newsletter", mix, "mra"))
    mix = GMime.Multipart.new_with_subtype("mixed")
    mix.add(gm_text("Forwarded message attached.\n"))
    fwd = GMime.MessagePart.new_with_message("rfc822",
                                             gm_message("Original message", gm_text("original body\n"), "orig"))
    mix.add(fwd)
    gm_save("forward-rfc822", gm_message("Fwd: Original message", mix, "fwd"))
    gm_save("qp-text", gm_message("QP", (lambda p: (p.set_content_encoding(GMime.ContentEncoding.QUOTEDPRINTABLE), p)[1])(
        gm_text("Grüße " * 30 + "\n")), "qp"))
    gm_save("base64-text", gm_message("B64", (lambda p: (p.set_content_encoding(GMime.ContentEncoding.BASE64), p)[1])(
        gm_text("Grüße " * 30 + "\n")), "b64"))
    gm_save("calendar", gm_message("Invitation", (lambda p: (p.get_content_type().set_parameter("method", "REQUEST"), p)[1])(
        gm_text(ICS.format(uid="gm", summary="Réunion"), "calendar")), "cal"))
except Exception as e:  # noqa: BLE001
    print("make-corpus: GMime matrix skipped: %s" % e, file=sys.stderr)

print("python_matrix: %d messages" % N[0], file=sys.stderr)
