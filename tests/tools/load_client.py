#!/usr/bin/python3
"""Load generator for the crash tests: THREADS raw-socket SMTP clients send
messages to 127.0.0.1:PORT for at most SECONDS, reusing each connection, and
append every queue ID acknowledged with 250 to OUT (one per line, flushed at
once). Connection errors end a thread quietly: the server is expected to die.

  load_client.py PORT SECONDS THREADS OUT
"""
import socket
import sys
import threading
import time

PORT, SECONDS, THREADS, OUT = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lock = threading.Lock()
out = open(OUT, "a")


def reply(f):
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return line.decode(errors="replace")


def worker(n):
    deadline = time.time() + SECONDS
    body = (b"Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: load@example.com\r\n"
            b"To: sink@example.org\r\nSubject: load %d\r\nMessage-ID: <%d.%%d@example.com>\r\n\r\n" % (n, n)
            + (b"x" * 76 + b"\r\n") * 26)
    try:
        s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        f = s.makefile("rb")
        reply(f)
        s.sendall(b"EHLO load.example\r\n")
        reply(f)
        i = 0
        while time.time() < deadline:
            i += 1
            s.sendall(b"MAIL FROM:<load@example.com>\r\nRCPT TO:<sink@example.org>\r\nDATA\r\n")
            for _ in range(3):
                r = reply(f)
            if not r.startswith("354"):
                return
            s.sendall(body.replace(b"%d@", b"%d@" % i) + b".\r\n")
            r = reply(f)
            if r.startswith("250 "):
                with lock:
                    out.write(r.split("queued as ")[1].strip() + "\n")
                    out.flush()
    except (OSError, ConnectionError, IndexError):
        return


threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
