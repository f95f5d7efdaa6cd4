#!/usr/bin/env python3
"""A `--connect` node recovers from any input its hub sends (PROTOCOL.md section 3).

The hub here is a fake written from PROTOCOL.md (an XSUB and an XPUB bound where a hub's are):
it says hello as a hub every 100 ms and plays a numbered control change every 10 ms. It sends
the node (1) a message whose topic is not its sender, which the node drops and counts
`malformed`, then (2) one frame over the 512 KiB limit: ZeroMQ closes the node's connection for
that protocol error and, unlike after a network error, never reconnects by itself. Before the
fix the node went deaf for good, logging only "peer went silent". Now it notices the silence,
builds new sockets (`reconnects`, logged) and plays the hub's stream again."""

from __future__ import annotations

import threading
import time

import msgpack
import zmq

import meshlab
from socket_midi import Reader
from meshlab import Lab, fail, stats, wait_until
from wireclient import HELLO, MIDI, new_id

MAX_FRAME = 524_288


class FakeHub:
    def __init__(self, port: int):
        self.id = new_id()
        self.seq = 0
        ctx = zmq.Context.instance()
        self.xsub = ctx.socket(zmq.XSUB)
        self.xpub = ctx.socket(zmq.XPUB)
        for s in (self.xsub, self.xpub):
            s.setsockopt(zmq.LINGER, 0)
        self.xpub.setsockopt(zmq.INVERT_MATCHING, 1)
        self.xsub.bind(f"tcp://127.0.0.1:{port}")
        self.xpub.bind(f"tcp://127.0.0.1:{port + 1}")
        self.xsub.send(b"\x01")  # subscribe to everything, as a hub does
        self.lock = threading.Lock()
        self.played = 0
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def envelope(self, mtype: int, payload: bytes, sender: str | None = None) -> bytes:
        frame = msgpack.packb([1, mtype, sender or self.id, self.seq, time.time_ns() // 1000,
                               payload], use_bin_type=True)
        self.seq += 1
        return frame

    def send(self, frames: list[bytes]) -> None:
        with self.lock:
            self.xpub.send_multipart(frames)

    def run(self) -> None:
        next_hello = 0.0
        while self.running:
            now = time.monotonic()
            with self.lock:
                if now >= next_hello:
                    self.xpub.send_multipart([self.id.encode(), self.envelope(HELLO, msgpack.packb(
                        {"name": "fakehub", "role": "hub", "hub": self.id, "term": 1}))])
                    next_hello = now + 0.1
                i = self.played & 0x3FFF
                self.xpub.send_multipart([self.id.encode(), self.envelope(
                    MIDI, bytes([0xBF, i >> 7, i & 0x7F]))])
                self.played += 1
            while self.xpub.poll(0):  # subscriptions: not needed, but keep the queue empty
                self.xpub.recv()
            while self.xsub.poll(0):
                self.xsub.recv_multipart()
            time.sleep(0.01)  # pacing the fake hub's stream

    def close(self) -> None:
        self.running = False
        self.thread.join(5)
        self.xsub.close(0)
        self.xpub.close(0)


def test() -> None:
    with Lab() as lab:
        port = lab.free_port()
        hub = FakeHub(port)
        lab.at_close(hub.close)
        path = str(lab.dir / "deafnot")
        out = Reader(f"{path}-out")
        lab.at_close(out.close)
        node = lab.spawn("deafnot", [meshlab.midimesh(), "--connect", f"127.0.0.1:{port}",
                                     "--name", "deafnot", "--midi-api", "socket",
                                     "--port-name", path])
        node.wait_for_line(r"joined the mesh through hub")
        if out.recv(5) is None:
            fail("the node played nothing from the fake hub")

        # (1) topic is not the sender
        before = stats(node)
        hub.send([new_id().encode(), hub.envelope(MIDI, b"\xb0\x11\x00")])
        wait_until(lambda: stats(node)["malformed"] == before["malformed"] + 1, 10,
                   "the node to count a message whose topic is not its sender")
        node.wait_for_line(r"topic is not its sender", from_start=True)

        # (2) one frame over the limit
        hub.send([hub.id.encode(), hub.envelope(MIDI, b"\xf0" + bytes(MAX_FRAME) + b"\xf7")])
        node.wait_for_line(r"heard nothing from the hub .* reconnecting", 15)
        # It was deaf for 5 s before it said so: what it counts from here on came through
        # the new sockets. (Draining its output instead never ends: the stream goes on.)
        deaf = stats(node)["midi_received"]
        wait_until(lambda: stats(node)["midi_received"] > deaf, 10,
                   "the node to play its hub's stream again after a frame over the size limit")
        if out.recv(5) is None:
            fail("the node counts messages again but plays none")
        after = stats(node)
        if after["reconnects"] < 1:
            fail(f"the node did not count its reconnect: {after}")
        print(f"a --connect node dropped a spoofed topic (malformed) and, after a frame over "
              f"512 KiB, reconnected ({after['reconnects']} reconnect(s)) and played again")


meshlab.main(test)
