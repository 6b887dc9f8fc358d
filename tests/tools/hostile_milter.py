#!/usr/bin/python3
"""A hostile milter for spoolgate's milter abuse tests (issue 21): speaks the
raw milter protocol (version 6), answers every command up to the end of the
message like a well-behaved filter, and misbehaves there. One thread per
connection.

  hostile_milter.py MODE PORTFILE [COUNT]

Listens on 127.0.0.1 (a free port, written to PORTFILE once listening) and
prints one line "eom N" to stdout each time it receives an end of message.
MODE:
  empty-edits  COUNT packets alternating ADDHEADER with an empty name and
               value and an empty REPLBODY, then accept
  add-flood    COUNT ADDHEADER packets "X" with an empty value (five bytes
               each once written as "X: \\r\\n"), then accept
  progress     SMFIR_PROGRESS every 0.1 s, for ever
  hang         nothing: the connection stays open and silent
"""
import sys
import threading
import time

from milter_wire import negotiate_reply, packet, read_packet, serve_forever

MODE, PORTFILE = sys.argv[1:3]
COUNT = int(sys.argv[3]) if len(sys.argv) > 3 else 0
lock = threading.Lock()
eoms = 0


def misbehave(conn):
    if MODE == "empty-edits":
        pair = packet(b"h", b"\0\0") + packet(b"b")
        conn.sendall(pair * (COUNT // 2) + packet(b"a"))
    elif MODE == "add-flood":
        conn.sendall(packet(b"h", b"X\0\0") * COUNT + packet(b"a"))
    elif MODE == "progress":
        while True:
            conn.sendall(packet(b"p"))
            time.sleep(0.1)   # a sleep: progress at a steady pace is the abuse
    else:
        time.sleep(3600)      # a sleep: hanging is the abuse


def serve(conn):
    global eoms
    try:
        while True:
            cmd, _ = read_packet(conn)
            if cmd == b"O":
                conn.sendall(negotiate_reply())
            elif cmd in (b"D", b"A"):
                continue
            elif cmd in (b"Q", b"K"):
                return
            elif cmd == b"E":
                with lock:
                    eoms += 1
                    print("eom", eoms, flush=True)
                misbehave(conn)
            else:
                conn.sendall(packet(b"c"))
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


if __name__ == "__main__":
    serve_forever(PORTFILE, serve, 64)
