#!/usr/bin/python3
"""smarthost.py - an independent SMTP smarthost for spoolgate's relay tests,
built on Debian's python3-aiosmtpd.

  smarthost.py mkcert DIR PREFIX NAME
      make a test CA (DIR/PREFIX-ca.pem) and a server certificate for NAME
      signed by it (DIR/PREFIX-cert.pem, DIR/PREFIX-key.pem) with openssl.
  smarthost.py serve --port N --dir DIR [--cert F --key F] [--auth USER:PASS]
                     [--reply ADDR=CODE[,CODE...]]... [--dsn] [--no-smtputf8]
      listen on 127.0.0.1:N until SIGTERM. With --cert it offers STARTTLS;
      with --auth it offers AUTH PLAIN/LOGIN (inside TLS only). --reply gives
      the RCPT replies for ADDR, one per attempt, the last one repeating
      (250, 451 or 550). Every accepted message is stored byte-exact as
      DIR/msg-NNN.eml with DIR/msg-NNN.json (envelope, TLS, AUTH, peer);
      every command seen goes to DIR/events.jsonl. DIR/ready appears once
      the server listens. With --dsn it offers DSN (RFC 3461) and records
      RET/ENVID and each recipient's NOTIFY/ORCPT, byte for byte, in the
      message's JSON as dsn_mail and dsn_rcpt. --no-smtputf8: SMTPUTF8 is
      neither offered nor accepted. --known ADDR (repeatable): the users
      this host knows; with any, RCPT to another address gets 550 5.1.1.
      --rcpt-delay SECONDS: every RCPT is answered that much later.
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import threading

REPLIES = {
    250: "250 2.1.5 Ok",
    451: "451 4.3.0 Temporary failure, try again later",
    550: "550 5.1.1 No such user here",
}


def mkcert(directory, prefix, name):
    p = lambda s: os.path.join(directory, f"{prefix}-{s}")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN=spoolgate test CA {prefix}", "-keyout", p("ca-key.pem"), "-out", p("ca.pem"),
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
        "-keyout", p("key.pem"), "-out", p("csr.pem"))
    ext = p("ext.cnf")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", p("csr.pem"), "-CA", p("ca.pem"), "-CAkey", p("ca-key.pem"),
        "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", p("cert.pem"))


class Recorder:
    def __init__(self, directory, replies, auth, dsn=False, known=None, rcpt_delay=0.0):
        self.known = known
        self.rcpt_delay = rcpt_delay
        self.dir = directory
        self.replies = replies
        self.auth = auth
        self.dsn = dsn
        self.count = 0
        self.lock = threading.Lock()

    def event(self, session, **fields):
        fields["peer_port"] = session.peer[1] if session.peer else None
        fields["tls"] = session.ssl is not None
        with self.lock, open(os.path.join(self.dir, "events.jsonl"), "a") as f:
            f.write(json.dumps(fields) + "\n")

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.event(session, cmd="EHLO", arg=hostname)
        if self.dsn:
            responses.insert(len(responses) - 1, "250-DSN")
        return responses

    async def handle_QUIT(self, server, session, envelope):
        self.event(session, cmd="QUIT")
        return "221 2.0.0 Bye"

    async def handle_MAIL(self, server, session, envelope, address, options):
        self.event(session, cmd="MAIL", arg=address, options=options)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, options):
        script = self.replies.get(address.lower())
        code = 250
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        if self.known is not None and address.lower() not in self.known:
            code = 550
        if script:
            code = script.pop(0) if len(script) > 1 else script[0]
        self.event(session, cmd="RCPT", arg=address, code=code)
        if code == 250:
            envelope.rcpt_tos.append(address)
        return REPLIES.get(code, f"{code} scripted reply")

    async def handle_QUIT(self, server, session, envelope):
        self.event(session, cmd="QUIT")
        return "221 2.0.0 Bye"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.dir, f"msg-{n:03d}")
        tls = session.ssl.get("ssl_object") if session.ssl else None
        record = {
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "helo": session.host_name,
            "peer_port": session.peer[1],
            "tls_version": tls.version() if tls else None,
            "tls_cipher": tls.cipher()[0] if tls else None,
            "sni": getattr(tls, "sni", None) if tls else None,
            "authenticated": bool(session.authenticated),
            "auth_user": getattr(session, "auth_user", None),
            "dsn_mail": getattr(session, "dsn_mail", {}),
            "dsn_rcpt": getattr(session, "dsn_rcpt", {}),
        }
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".eml.tmp", base + ".eml")
        with open(base + ".json.tmp", "w") as f:
            json.dump(record, f)
        os.rename(base + ".json.tmp", base + ".json")
        self.event(session, cmd="DATA", file=os.path.basename(base))
        return "250 2.0.0 Ok: stored as " + os.path.basename(base)


def split_dsn(arg, keys):
    """arg without the DSN parameters named in keys, and those as a dict."""
    kept, dsn = [], {}
    for word in arg.split(" "):
        key = word.split("=", 1)[0].upper()
        if key in keys and "=" in word:
            dsn[key] = word.split("=", 1)[1]
        else:
            kept.append(word)
    return " ".join(kept), dsn


def dsn_smtp_class():
    """aiosmtpd's SMTP, taking the RFC 3461 parameters off MAIL and RCPT
    (aiosmtpd itself refuses them) and keeping them on the session."""
    from aiosmtpd.smtp import SMTP

    class DsnSMTP(SMTP):
        async def smtp_MAIL(self, arg):
            if arg:
                arg, self.session.dsn_mail = split_dsn(arg, ("RET", "ENVID"))
                self.session.dsn_rcpt = {}
            return await super().smtp_MAIL(arg)

        async def smtp_RCPT(self, arg):
            if arg:
                arg, dsn = split_dsn(arg, ("NOTIFY", "ORCPT"))
                addr = arg[arg.find("<") + 1:arg.find(">")] if "<" in arg else arg
                if dsn:
                    getattr(self.session, "dsn_rcpt", {})[addr] = dsn
            return await super().smtp_RCPT(arg)
    return DsnSMTP


def serve(args):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    replies = {}
    for item in args.reply or []:
        addr, codes = item.split("=", 1)
        replies[addr.lower()] = [int(c) for c in codes.split(",")]
    known = {a.lower() for a in args.known} if args.known else None
    recorder = Recorder(args.dir, replies, args.auth, args.dsn, known, args.rcpt_delay)
    kwargs = {"server_hostname": "smarthost.test", "decode_data": False,
              "data_size_limit": 50 * 1000 * 1000, "enable_SMTPUTF8": not args.no_smtputf8}
    sni_seen = {}
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)

        def on_sni(sock, name, _ctx):
            sock.sni = name
        ctx.sni_callback = on_sni
        kwargs["tls_context"] = ctx
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (auth_data.login.decode() == user and auth_data.password.decode() == password)
            if ok:
                session.auth_user = user
            recorder.event(session, cmd="AUTH", arg=mechanism, ok=ok)
            return AuthResult(success=ok)
        kwargs["authenticator"] = authenticator
        kwargs["auth_require_tls"] = True
    if args.dsn:
        smtp_class = dsn_smtp_class()

        class DsnController(Controller):
            def factory(self):
                return smtp_class(self.handler, **self.SMTP_kwargs)
        controller = DsnController(recorder, hostname="127.0.0.1", port=args.port, **kwargs)
    else:
        controller = Controller(recorder, hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    with open(os.path.join(args.dir, "ready"), "w") as f:
        f.write(f"{os.getpid()}\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    while not stop.wait(0.2):
        pass
    # aiosmtpd's Controller.stop() can wait forever on a session it cannot
    # cancel; what was recorded is on disk already, so give it a few
    # seconds and then leave regardless.
    stopper = threading.Thread(target=controller.stop, daemon=True)
    stopper.start()
    stopper.join(5)
    sys.stdout.flush()
    os._exit(0)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mkcert")
    m.add_argument("dir")
    m.add_argument("prefix")
    m.add_argument("name")
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--dir", required=True)
    s.add_argument("--cert")
    s.add_argument("--key")
    s.add_argument("--auth")
    s.add_argument("--reply", action="append")
    s.add_argument("--dsn", action="store_true")
    s.add_argument("--no-smtputf8", action="store_true")
    s.add_argument("--known", action="append")
    s.add_argument("--rcpt-delay", type=float, default=0.0)
    args = ap.parse_args()
    if args.cmd == "mkcert":
        mkcert(args.dir, args.prefix, args.name)
    else:
        os.makedirs(args.dir, exist_ok=True)
        serve(args)


if __name__ == "__main__":
    try:
        import aiosmtpd  # noqa: F401
    except ImportError as exc:
        print(f"smarthost.py: python3-aiosmtpd is not installed: {exc}", file=sys.stderr)
        sys.exit(77)
    main()
