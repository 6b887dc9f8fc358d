#!/usr/bin/python3
"""A scripted milter for spoolgate's milter tests: speaks just enough of the
milter protocol (version 6) to play one part, one thread per connection.

  milter_peer.py MODE PORTFILE LOGFILE

Listens on 127.0.0.1 (a free port, written to PORTFILE once listening) and
appends one JSON line per command received to LOGFILE ({"cmd": "M", "args":
[...], "macros": {...}}). MODE:
  hang        answer option negotiation, then never answer again
  hang-eom    continue at every step, never answer at end of message
  quarantine  accept everything, quarantine at end of message
  edits       at end of message: add a header, change Subject, and ask for a
              body replacement, a new recipient and a new sender (to be refused)
  discard     discard at end of message
  tempfail-rcpt  reply 451 4.7.1 with text at RCPT
  accept-early   accept at CONNECT: nothing more is sent but quit
  flood       at end of message: 256 added headers of 60,000 bytes each, then accept
"""
import json
import struct
import sys
import threading
import time

from milter_wire import negotiate_reply, packet, read_packet, serve_forever

MODE, PORTFILE, LOGFILE = sys.argv[1:4]
lock = threading.Lock()


def log(entry):
    entry["conn"] = threading.current_thread().name   # one thread per conversation
    with lock, open(LOGFILE, "a") as f:
        f.write(json.dumps(entry) + "\n")


def strings(data):
    return [s.decode("utf-8", "replace") for s in data.split(b"\0")[:-1]]


def serve(conn):
    macros = {}
    try:
        while True:
            cmd, data = read_packet(conn)
            if cmd == b"D":
                s = strings(data[1:])
                macros.update(dict(zip(s[0::2], s[1::2])))
                continue
            log({"cmd": cmd.decode(), "args": strings(data) if cmd != b"B" else [data.decode("utf-8", "replace")],
                 "macros": macros})
            if cmd == b"O":
                conn.sendall(negotiate_reply())
                if MODE == "hang":
                    time.sleep(3600)   # a sleep: hanging is the part it plays
                continue
            if cmd in (b"A",):
                continue
            if cmd in (b"Q", b"K"):
                return
            if cmd == b"C" and MODE == "accept-early":
                conn.sendall(packet(b"a"))
                continue
            if cmd == b"R" and MODE == "tempfail-rcpt":
                conn.sendall(packet(b"y", b"451 4.7.1 Greylisted, try again\0"))
                continue
            if cmd == b"E":
                if MODE == "hang-eom":
                    time.sleep(3600)   # a sleep: hanging is the part it plays
                    return
                if MODE == "quarantine":
                    conn.sendall(packet(b"q", b"suspicious attachment\0") + packet(b"c"))
                elif MODE == "edits":
                    conn.sendall(packet(b"h", b"X-Peer\0checked\0")
                                 + packet(b"m", struct.pack(">I", 1) + b"Subject\0changed\0")
                                 + packet(b"b", b"replaced body\r\n")
                                 + packet(b"+", b"<extra@example.net>\0")
                                 + packet(b"e", b"<other@example.com>\0")
                                 + packet(b"a"))
                elif MODE == "flood":
                    try:
                        for i in range(256):
                            conn.sendall(packet(b"h", b"X-Flood-%d\0" % i + b"x" * 60000 + b"\0"))
                        conn.sendall(packet(b"a"))
                    except OSError:
                        return
                elif MODE == "discard":
                    conn.sendall(packet(b"d"))
                else:
                    conn.sendall(packet(b"a"))
                continue
            conn.sendall(packet(b"c"))
    except (EOFError, ConnectionError):
        pass
    finally:
        conn.close()


if __name__ == "__main__":
    serve_forever(PORTFILE, serve, 16)
