#!/usr/bin/python3
"""STARTTLS client checks for spoolgate's integration tests (Python's smtplib
and ssl: an implementation independent of ours). Each prints one JSON line.

  tls_client.py send PORT CAFILE FILE    STARTTLS with verification, send FILE
  tls_client.py inject PORT              pipeline a command behind STARTTLS
                                         (CVE-2011-0411); report what came back
  tls_client.py plain-mail PORT          MAIL without STARTTLS
  tls_client.py reload-starttls PORT CAFILE CONFIG PID LOG
                                         EHLO, then empty CONFIG and SIGHUP the
                                         server (PID) until LOG says it reloaded;
                                         then STARTTLS on the same session
"""
import json
import os
import signal
import smtplib
import socket
import ssl
import sys
import time


def send(port, cafile, path):
    ctx = ssl.create_default_context(cafile=cafile)
    with smtplib.SMTP("localhost", int(port), timeout=30) as s:
        s.ehlo("client.example")
        offered = s.has_extn("starttls")
        s.starttls(context=ctx)
        s.ehlo("client.example")
        code, msg = s.mail("a@example.com")
        if code == 250:
            code, msg = s.rcpt("b@example.org")
        if code == 250:
            code, msg = s.data(open(path, "rb").read())
        print(json.dumps({"offered": offered, "code": code, "message": msg.decode(),
                          "tls": s.sock.version()}))


def read_reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            return lines
        lines.append(line.decode().rstrip("\r\n"))
        if line[3:4] != b"-":
            return lines


def inject(port):
    raw = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    f = raw.makefile("rb")
    read_reply(f)
    raw.sendall(b"EHLO client.example\r\n")
    read_reply(f)
    # the injected NOOP travels in the same packet as STARTTLS
    raw.sendall(b"STARTTLS\r\nNOOP\r\n")
    starttls = read_reply(f)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls = ctx.wrap_socket(raw, server_hostname="localhost")
    tls.settimeout(2)
    unsolicited = []
    try:
        data = tls.recv(4096)   # nothing may arrive: the NOOP was discarded
        unsolicited = data.decode(errors="replace").splitlines()
    except (socket.timeout, TimeoutError):
        pass
    tls.settimeout(10)
    tf = tls.makefile("rb")
    tls.sendall(b"EHLO client.example\r\n")
    ehlo = read_reply(tf)
    tls.sendall(b"MAIL FROM:<a@example.com>\r\n")
    mail = read_reply(tf)
    print(json.dumps({"starttls": starttls, "unsolicited": unsolicited, "ehlo": ehlo,
                      "mail": mail}))


def plain_mail(port):
    with smtplib.SMTP("127.0.0.1", int(port), timeout=30) as s:
        s.ehlo("client.example")
        code, msg = s.mail("a@example.com")
        print(json.dumps({"code": code, "message": msg.decode()}))


def reload_starttls(port, cafile, config, pid, log):
    """The session saw STARTTLS offered before a reload removed [tls]: it
    must still get the handshake with the context it was offered."""
    ctx = ssl.create_default_context(cafile=cafile)
    with smtplib.SMTP("localhost", int(port), timeout=30) as s:
        s.ehlo("client.example")
        offered = s.has_extn("starttls")
        before = open(log, "rb").read().count(b"reloaded configuration")
        open(config, "w").close()
        os.kill(int(pid), signal.SIGHUP)
        deadline = time.monotonic() + 10
        while open(log, "rb").read().count(b"reloaded configuration") == before:
            if time.monotonic() > deadline:
                raise SystemExit("the server did not reload")
            time.sleep(0.05)
        s.starttls(context=ctx)
        s.ehlo("client.example")
        code, msg = s.mail("a@example.com")
        print(json.dumps({"offered": offered, "code": code, "message": msg.decode(),
                          "tls": s.sock.version()}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"send": send, "inject": inject, "plain-mail": plain_mail,
     "reload-starttls": reload_starttls}[cmd](*args)
