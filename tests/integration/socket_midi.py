"""socket_midi: the test side of the socket MIDI backend (`--midi-api socket`): a writer into a
node's input and a reader of what it plays. Shared by the tests that play through it."""

from __future__ import annotations

import select
import socket
import time

from meshlab import fail


def writer(path: str) -> socket.socket:
    """A connection into a node's input, once the node listens (bounded wait)."""
    deadline = time.monotonic() + 10
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(path)
            return s
        except OSError as e:
            s.close()
            if time.monotonic() > deadline:
                fail(f"cannot connect to the node's input {path}: {e}")
        time.sleep(0.01)  # polling for a socket file another process creates


class Reader:
    """Listens where a node plays: the node connects when it first plays, and writes each message
    as a 4-byte little-endian length and the bytes."""

    def __init__(self, path: str):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.conn: socket.socket | None = None
        self.buffer = b""

    def recv(self, timeout: float) -> bytes | None:
        """The next message, or None after `timeout` seconds without one."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= 4:
                length = int.from_bytes(self.buffer[:4], "little")
                if len(self.buffer) >= 4 + length:
                    message, self.buffer = self.buffer[4:4 + length], self.buffer[4 + length:]
                    return message
            left = deadline - time.monotonic()
            waiting_on = self.listener if self.conn is None else self.conn
            if left <= 0 or not select.select([waiting_on], [], [], left)[0]:
                return None
            if self.conn is None:
                self.conn, _ = self.listener.accept()
                continue
            chunk = self.conn.recv(1 << 20)
            if not chunk:
                fail("a node closed its output")
            self.buffer += chunk

    def close(self) -> None:
        for s in (self.conn, self.listener):
            if s is not None:
                s.close()
