"""A midimesh protocol v1 client written from src/wire/PROTOCOL.md alone (pyzmq + msgpack).

Integration tests use it to put on the mesh what a MIDI port cannot (a 64 KiB SysEx, floods,
garbage, another protocol version) and to watch what nodes publish. It doubles as proof that the
protocol document is enough to write a compatible client in another language.
"""

from __future__ import annotations

import os
import socket
import time

import msgpack
import zmq

VERSION = 1
MIDI, HELLO, GOODBYE = 1, 2, 3


def new_id() -> str:
    return os.urandom(8).hex()


class WireClient:
    """One mesh member: a PUB into the hub's XSUB and an inverted SUB from its XPUB."""

    def __init__(self, host: str, port: int, name: str = "wireclient", *, hwm: int = 100_000,
                 curve: tuple[bytes, bytes, bytes] | None = None):
        """curve: a secured mesh's (server public, client public, client secret) keys."""
        self.id = new_id()
        self.name = name
        self.seq = 0
        self.ctx = zmq.Context.instance()
        # An XPUB, not a PUB: it sees the hub's XSUB subscribe, so we know when the publish
        # path is open (a PUB drops silently until then).
        self.pub = self.ctx.socket(zmq.XPUB)
        self.sub = self.ctx.socket(zmq.SUB)
        for s in (self.pub, self.sub):
            s.setsockopt(zmq.LINGER, 0)
            if curve:
                s.setsockopt(zmq.CURVE_SERVERKEY, curve[0])
                s.setsockopt(zmq.CURVE_PUBLICKEY, curve[1])
                s.setsockopt(zmq.CURVE_SECRETKEY, curve[2])
        self.pub.setsockopt(zmq.SNDHWM, hwm)
        self.sub.setsockopt(zmq.RCVHWM, hwm)
        # PROTOCOL.md section 1: inverted matching, subscribed to our own id.
        self.sub.setsockopt(zmq.INVERT_MATCHING, 1)
        self.sub.setsockopt(zmq.SUBSCRIBE, self.id.encode())
        self.pub.connect(f"tcp://{host}:{port}")
        self.sub.connect(f"tcp://{host}:{port + 1}")

    def close(self) -> None:
        self.pub.close(0)
        self.sub.close(0)

    def envelope(self, mtype: int, payload: bytes, *, version: int = VERSION,
                 sender: str | None = None) -> bytes:
        frame = msgpack.packb([version, mtype, sender or self.id, self.seq,
                               time.time_ns() // 1000, payload], use_bin_type=True)
        self.seq += 1
        return frame

    def send_frames(self, frames: list[bytes]) -> None:
        self.pub.send_multipart(frames)

    def send(self, mtype: int, payload: bytes) -> None:
        self.send_frames([self.id.encode(), self.envelope(mtype, payload)])

    def send_midi(self, midi: bytes) -> None:
        self.send(MIDI, midi)

    def hello(self) -> None:
        self.send(HELLO, msgpack.packb({"name": self.name, "role": "node",
                                        "program": "wireclient"}))

    def goodbye(self) -> None:
        self.send(GOODBYE, msgpack.packb({"reason": "test over"}))

    def receive(self, timeout_ms: int) -> tuple[str, int, int, bytes] | None:
        """Next (sender, type, seq, payload), or None if nothing came within timeout_ms."""
        if not self.sub.poll(timeout_ms):
            return None
        frames = self.sub.recv_multipart()
        if len(frames) != 2:
            raise AssertionError(f"a message of {len(frames)} frames")
        version, mtype, sender, seq, _time_us, payload = msgpack.unpackb(frames[1], raw=False)
        if version != VERSION or frames[0].decode() != sender:
            raise AssertionError(f"bad envelope from {sender}")
        return sender, mtype, seq, payload

    def join(self, timeout: float = 10.0) -> dict[str, str]:
        """Waits until both directions work: our PUB is connected and the hub's hello came
        back. Returns the names of the peers heard meanwhile."""
        peers: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        if not self.pub.poll(int(timeout * 1000)) or self.pub.recv() != b"\x01":
            raise AssertionError("the hub never subscribed to our messages")
        hub_seen = False
        while not hub_seen:
            if time.monotonic() > deadline:
                raise AssertionError("the hub never answered")
            self.hello()
            while (m := self.receive(50)) is not None:
                sender, mtype, _seq, payload = m
                if mtype == HELLO:
                    info = msgpack.unpackb(payload, raw=False)
                    peers[sender] = info["name"]
                    hub_seen = hub_seen or info["role"] == "hub"
        return peers


def hub_closes(sock: socket.socket, within: float) -> bool:
    """Read (and ignore) what the hub sends until it closes the connection or time is up."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(4096):
                return True
        except TimeoutError:
            return False
        except ConnectionError:
            return True
    return False
