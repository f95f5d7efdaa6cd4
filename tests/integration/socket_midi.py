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
        try:
            return connect_input(path)
        except OSError as e:
            if time.monotonic() > deadline:
                fail(f"cannot connect to the node's input {path}: {e}")
        time.sleep(0.01)  # polling for a socket file another process creates


def connect_input(path: str) -> socket.socket:
    """One attempt at a connection into a node's input; OSError if it does not listen (yet)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(path)
    except OSError:
        s.close()
        raise
    return s


class Reader:
    """Listens where a node plays: the node connects when it first plays, and writes each message
    as a 4-byte little-endian length and the bytes. reconnect=True: the node may end and another
    start on the same port (tools/chaos); a closed connection is counted in `closed`, and the
    next node's accepted, instead of failing."""

    def __init__(self, path: str, reconnect: bool = False):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.conn: socket.socket | None = None
        self.buffer = b""
        self.reconnect = reconnect
        self.closed = 0  # connections that ended (reconnect=True)

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
            self._read()

    def _read(self) -> None:
        chunk = self.conn.recv(1 << 20)
        if chunk:
            self.buffer += chunk
            return
        if not self.reconnect:
            fail("a node closed its output")
        # A message cut short by the node's end was never played: drop its part.
        self.conn.close()
        self.conn, self.buffer = None, b""
        self.closed += 1

    def take(self) -> list[bytes]:
        """Every message that has arrived by now, without waiting (reconnect=True readers:
        connections accepted and ended on the way)."""
        messages = []
        while True:
            waiting_on = self.listener if self.conn is None else self.conn
            if not select.select([waiting_on], [], [], 0)[0]:
                break
            if self.conn is None:
                self.conn, _ = self.listener.accept()
                continue
            self._read()
            while len(self.buffer) >= 4:
                length = int.from_bytes(self.buffer[:4], "little")
                if len(self.buffer) < 4 + length:
                    break
                messages.append(self.buffer[4:4 + length])
                self.buffer = self.buffer[4 + length:]
        return messages

    def fileno(self) -> int:
        """What to select() on for take(): the connection, or the listener between nodes."""
        return (self.listener if self.conn is None else self.conn).fileno()

    def close(self) -> None:
        for s in (self.conn, self.listener):
            if s is not None:
                s.close()
