"""The raw milter protocol (version 6) as the scripted milters of the tests
speak it (milter_peer.py, hostile_milter.py): packets, exact reads, and a
listener on a free loopback port that writes the port to a file once it
listens and serves each connection in a thread of its own."""
import os
import socket
import struct
import threading


def packet(cmd, data=b""):
    """One milter packet: a 4-byte length, the command byte, its data."""
    return struct.pack(">I", len(data) + 1) + cmd + data


def read_exact(conn, n):
    """n bytes from conn; EOFError if it closes first."""
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_packet(conn):
    """The next packet: (command byte, data)."""
    (length,) = struct.unpack(">I", read_exact(conn, 4))
    body = read_exact(conn, length)
    return body[:1], body[1:]


def negotiate_reply():
    """SMFIC_OPTNEG answered: version 6, every action, no protocol steps skipped."""
    return packet(b"O", struct.pack(">III", 6, 0x1FF, 0))


def serve_forever(portfile, serve, backlog):
    """Listen on 127.0.0.1 (a free port, written to portfile once listening)
    and run serve(conn) in a daemon thread per connection."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(backlog)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
