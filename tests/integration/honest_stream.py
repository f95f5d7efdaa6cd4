"""A 1 kHz stream of MIDI between two real nodes (socket MIDI backend), to show that an attack
on the mesh leaves an honest sender's stream whole: every message played, in order, none held up
long in the mesh. Each message is a control change on channel 16 carrying a 14-bit counter, so
the reader can tell it from anything an attacker makes a node play."""

from __future__ import annotations

import socket
import threading
import time

from meshlab import Lab, Proc, fail, start_node
from socket_midi import Reader, writer

RATE_HZ = 1000
# A writer held up longer than this (a busy machine) plays on at its pace from where it is, as a
# player would: it does not rush out the messages it owes, which a hub would rightly take for a
# burst.
BEHIND_S = 0.02




class HonestStream:
    """Node `sender` plays `count` messages at 1 kHz into the mesh; node `receiver` plays them."""

    def __init__(self, lab: Lab, port: int, sender: str = "honest", receiver: str = "listener"):
        self.paths = {n: str(lab.dir / n) for n in (sender, receiver)}
        self.out = Reader(f"{self.paths[receiver]}-out")
        lab.at_close(self.out.close)
        self.sender: Proc = start_node(lab, sender, port,
                                       ["--midi-api", "socket", "--port-name", self.paths[sender]])
        self.receiver: Proc = start_node(lab, receiver, port, [
            "--midi-api", "socket", "--port-name", self.paths[receiver]])
        self.input: socket.socket = writer(f"{self.paths[sender]}-in")
        lab.at_close(self.input.close)
        self.arrivals: list[tuple[float, int]] = []  # (time, counter)
        self.foreign: list[bytes] = []  # anything else the receiver played
        self.sent = 0
        self.sent_at: list[float] = []  # per message, when the writer handed it to its node
        self._threads: list[threading.Thread] = []

    @staticmethod
    def message(i: int) -> bytes:
        return bytes([0xBF, (i >> 7) & 0x7F, i & 0x7F])

    def start(self, count: int) -> None:
        self.count = count

        def write() -> None:
            began = time.monotonic()
            for i in range(count):
                delay = began + i / RATE_HZ - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing the stream, not waiting for a result
                elif delay < -BEHIND_S:
                    began -= delay
                self.sent_at.append(time.monotonic())
                self.input.send(self.message(i))
                self.sent = i + 1

        def read() -> None:
            deadline = time.monotonic() + count / RATE_HZ + 15
            while len(self.arrivals) < count and time.monotonic() < deadline:
                m = self.out.recv(1.0)
                if m is None:
                    continue
                if len(m) == 3 and m[0] == 0xBF:
                    self.arrivals.append((time.monotonic(), (m[1] << 7) | m[2]))
                else:
                    self.foreign.append(m)

        self._threads = [threading.Thread(target=f, daemon=True) for f in (write, read)]
        for t in self._threads:
            t.start()

    def finish(self, max_delay_s: float = 0.25) -> float:
        """Waits for the stream's end; fails unless every message was played, in order, none
        later than max_delay_s after the writer sent it. Returns the longest delay.

        A delay, not the silence between two arrivals: a mesh that stalls holds up what is sent
        meanwhile and shows here, while a writer starved by a busy machine sends nothing for a
        while, which is not the mesh's silence."""
        for t in self._threads:
            t.join(self.count / RATE_HZ + 20)
        counters = [c for _, c in self.arrivals]
        if counters != list(range(self.count)):
            missing = sorted(set(range(self.count)) - set(counters))
            fail(f"the honest stream was harmed: {len(counters)} of {self.count} played, "
                 f"{len(missing)} missing (first {missing[:10]}), in order: "
                 f"{counters == sorted(counters)}")
        delays = [(at - self.sent_at[c], c) for at, c in self.arrivals]
        longest, which = max(delays, default=(0.0, 0))
        if longest > max_delay_s:
            fail(f"honest message {which} was played {longest * 1000:.0f} ms after it was sent "
                 f"(limit {max_delay_s * 1000:.0f} ms)")
        return longest
