#!/usr/bin/python3
"""bench/backlog-spool.py SPOOL N - write N queued 2 KiB messages straight
into SPOOL/queue (no SMTP, no fsync), for start-up measurements with a queue
too large to fill by SMTP on a shared machine (issue 14: 1,000,000 queued).
Each message is a real .eml with matching size and SHA-256 in its .json."""
import hashlib, json, os, sys, time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

def b32(value, width):
    out = []
    for _ in range(width):
        out.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))

def main():
    spool, n = sys.argv[1], int(sys.argv[2])
    for d in ("tmp", "queue", "quarantine"):
        os.makedirs(os.path.join(spool, d), mode=0o700, exist_ok=True)
    queue = os.path.join(spool, "queue")
    now_us = int(time.time() * 1e6) - n   # one microsecond apart, all in the past
    node = 0x1F00D
    body = ("Received: from client.example (127.0.0.1) by bench.example; "
            "Tue, 1 Dec 2026 00:00:00 +0000\r\n"
            "From: <load@example.test>\r\nTo: <sink@example.test>\r\n"
            "Subject: backlog\r\nDate: Tue, 1 Dec 2026 00:00:00 +0000\r\n"
            "Message-ID: <%d@bench.example>\r\n\r\n" + "x" * 70 + "\r\n") 
    for i in range(n):
        us = now_us + i
        qid = b32(us, 11) + b32(node, 4) + b32(0, 5)
        eml = (body % i).encode()
        eml += b"y" * 68 + b"\r\n"
        eml = eml + (b"z" * 78 + b"\r\n") * ((2048 - len(eml)) // 80)
        meta = {
            "version": 1, "queue_id": qid, "arrival_time": us // 1000000,
            "arrival_time_us": us, "sender": "load@example.test",
            "recipients": [{"address": "sink@example.test", "status": "pending",
                            "delay_reason": None, "updated": 0}],
            "esmtp_size": None, "esmtp_body": None, "smtputf8": False,
            "client_address": "127.0.0.1", "client_port": 40000, "helo_name": "client.example",
            "protocol": "ESMTP", "tls_protocol": None, "tls_cipher": None,
            "message_size": len(eml), "sha256": hashlib.sha256(eml).hexdigest(),
            "state": "queued", "attempts": 0, "next_attempt": 0, "last_error": None,
            "attempt_history": [], "validation": None,
        }
        with open(os.path.join(queue, qid + ".eml"), "wb") as f:
            f.write(eml)
        with open(os.path.join(queue, qid + ".json"), "w") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")
    print("wrote %d messages into %s" % (n, queue))

main()
