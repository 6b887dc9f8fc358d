#!/usr/bin/python3
"""DKIM signing and verification for spoolgate's byte-fidelity test, with
Debian's python3-dkim and a key made at test time with openssl.

  dkim_tool.py keygen DIR          write DIR/key.pem and DIR/pub.b64
  dkim_tool.py sign DIR IN OUT     sign IN (simple/simple) into OUT
  dkim_tool.py verify DIR FILE     exit 0 if FILE's DKIM-Signature verifies
  dkim_tool.py verify-txt TXT FILE exit 0 if FILE's DKIM-Signature verifies
                                   against the record opendkim-genkey wrote to TXT
"""
import os
import subprocess
import sys

import dkim

SELECTOR, DOMAIN = b"sel", b"example.com"


def keygen(d):
    key = os.path.join(d, "key.pem")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True,
                   stderr=subprocess.DEVNULL)
    der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import base64
    open(os.path.join(d, "pub.b64"), "wb").write(base64.b64encode(der))


def sign(d, src, dst):
    msg = open(src, "rb").read()
    key = open(os.path.join(d, "key.pem"), "rb").read()
    sig = dkim.sign(msg, SELECTOR, DOMAIN, key, canonicalize=(b"simple", b"simple"),
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id",
                                     b"mime-version", b"content-type"])
    # dkim.sign folds with LF; the message uses CRLF
    sig = sig.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    open(dst, "wb").write(sig + msg)


def verify(d, path):
    pub = open(os.path.join(d, "pub.b64"), "rb").read().strip()

    def dns(name, timeout=5):
        if name == SELECTOR + b"._domainkey." + DOMAIN + b".":
            return b"v=DKIM1; k=rsa; p=" + pub
        return None
    ok = dkim.verify(open(path, "rb").read(), dnsfunc=dns)
    print("pass" if ok else "fail")
    return 0 if ok else 1


def verify_txt(txt, path):
    import re
    record = "".join(re.findall(r'"([^"]*)"', open(txt).read())).encode()

    def dns(name, timeout=5):
        return record if b"._domainkey." in name else None
    ok = dkim.verify(open(path, "rb").read(), dnsfunc=dns)
    print("pass" if ok else "fail")
    return 0 if ok else 1


if __name__ == "__main__":
    cmd = sys.argv[1:2]
    if cmd == ["keygen"]:
        keygen(sys.argv[2])
    elif cmd == ["sign"]:
        sign(*sys.argv[2:5])
    elif cmd == ["verify"]:
        sys.exit(verify(*sys.argv[2:4]))
    elif cmd == ["verify-txt"]:
        sys.exit(verify_txt(*sys.argv[2:4]))
    else:
        sys.exit(__doc__)
