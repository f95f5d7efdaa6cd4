#!/usr/bin/env python3
"""A fair and bounded hub (issue 10 item 4, PROTOCOL.md section 4, "Limits").

A 1 kHz stream runs between two real nodes while, through the same hub, one client floods 200 KB
SysEx dumps, another floods note-ons (each a process below the mesh's priority: flooders stand
for other computers, whose CPU the nodes do not share), and two receivers stop reading: a ZeroMQ SUB that never
calls recv, and a TCP client that completes the ZMTP handshake, subscribes, and never reads a
byte. Against the hub before budgets, the honest stream lost 522 of 8,000 messages in one run
and fell silent for 376 ms in another (meshbench's scenario: the hub grew to 190 MiB).

The test demands: every honest message played, in order, none delayed over 250 ms; both
flooders counted over budget at the hub (its stats and one log line each), the honest sender
never; the listener plays no more of the note flood than the budget lets through; the hub's
peak resident memory stays under 64 MiB. That bound: the hub's own 10 MiB or so, the 48 MiB
its receivers' queues may hold (QueuedBytes), and what one connection's inbound queue holds
while the hub drops a flood (measured: a few MiB); issue 10 sets the same figure as the goal."""

from __future__ import annotations

import re
import socket
import sys
import time
from pathlib import Path

import zmq

import meshlab
from honest_stream import HonestStream
from flooder import FLOOD_NOTE
from meshlab import Lab, fail, node_id, start_hub, stats, wait_until

FLOODER = Path(__file__).with_name("flooder.py")

STREAM = 8000  # messages, 8 s at 1 kHz
SYSEX_LIMIT = 2_000  # dumps offered at most: 400 MB
NOTE_LIMIT = 200_000  # note-ons offered at most, packed ahead
PEAK_RSS_LIMIT_KIB = 64 * 1024
# The hub's default budget (hub/sender_budget.hpp): 5,000 messages a second after a burst of
# 2,000.
BUDGET_RATE, BUDGET_BURST = 5_000, 2_000


def raw_subscriber(port: int) -> socket.socket:
    """A ZMTP 3.1 SUB in a few bytes: greeting (NULL mechanism) and READY; once the hub's READY
    is in, one subscription (to an id nobody has: with the hub's inverted matching, everything
    else comes). Then it never reads again."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    greeting = b"\xff" + bytes(7) + b"\x01\x7f" + bytes([3, 1]) + b"NULL".ljust(20, b"\0") + bytes(32)
    ready = b"\x05READY" + b"\x0bSocket-Type" + (3).to_bytes(4, "big") + b"SUB"
    sock.sendall(greeting + bytes([0x04, len(ready)]) + ready)
    # The hub's greeting (64 bytes) and READY (a short command: flags, size, body). A command
    # sent before it arrives is refused as unexpected.
    got = b""
    while len(got) < 66 or len(got) < 66 + got[65]:
        chunk = sock.recv(256)
        if not chunk:
            fail("the hub closed the raw subscriber's handshake")
        got += chunk
    subscribe = b"\tSUBSCRIBE" + b"f" * 16
    sock.sendall(bytes([0x04, len(subscribe)]) + subscribe)
    return sock


def stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    fail(f"no VmHWM for pid {pid}")
    return 0


def test() -> None:
    with Lab() as lab:
        hub, port = start_hub(lab, extra=["--no-midi", "--no-rtp-midi"])
        stream = HonestStream(lab, port)
        honest_id = node_id(stream.sender)

        # The receivers that never read, attached before the floods start.
        ctx = zmq.Context.instance()
        deaf = ctx.socket(zmq.SUB)  # no heartbeats: it answers nothing once its queue is full
        deaf.setsockopt(zmq.LINGER, 0)
        deaf.setsockopt(zmq.INVERT_MATCHING, 1)
        deaf.setsockopt(zmq.SUBSCRIBE, b"e" * 16)
        deaf.connect(f"tcp://127.0.0.1:{port + 1}")
        lab.at_close(deaf.close)
        raw = raw_subscriber(port + 1)
        lab.at_close(raw.close)

        # The floods come from processes of their own, below the mesh's priority: other
        # computers at a venue, whose CPU the nodes do not share (flooder.py).
        floods = {kind: lab.spawn(f"{kind} flood", [sys.executable, str(FLOODER), str(port), kind,
                                                    str(limit)])
                  for kind, limit in (("sysex", SYSEX_LIMIT), ("notes", NOTE_LIMIT))}
        ids = {kind: p.wait_for_line(r"^id ([0-9a-f]{16})$", 60).group(1)
               for kind, p in floods.items()}
        for p in floods.values():  # each stops itself once ready
            wait_until(lambda: stopped(p.pid), 10, f"{p.name} to be ready")
        began = time.monotonic()
        stream.start(STREAM)
        for p in floods.values():
            p.cont()
        try:
            longest = stream.finish()
        finally:
            for p in floods.values():
                p.terminate(10)
        offered = {}
        for kind, p in floods.items():
            m = re.search(r"^offered (\d+)$", "\n".join(p.lines()), re.M)
            offered[kind] = int(m.group(1)) if m else -1
        elapsed = time.monotonic() - began
        peak = peak_rss_kib(hub.pid)

        counters = stats(hub, "hub")
        if counters["budget_dropped"] == 0 or counters["senders_over_budget"] < 2:
            fail(f"the floods ({offered}) were not counted over budget: {counters}")
        over = set(re.findall(r"sender ([0-9a-f]{16}) exceeds its budget", "\n".join(hub.lines())))
        if not set(ids.values()) <= over:
            fail(f"the hub named {sorted(over)} over budget, not both flooders {ids}")
        if honest_id in over:
            fail(f"the honest sender {honest_id} was held to its budget")
        played = sum(1 for m in stream.foreign if m == FLOOD_NOTE)
        allowed = BUDGET_BURST + BUDGET_RATE * (elapsed + 1)
        if played > allowed:
            fail(f"the listener played {played} flood notes of {offered['notes']} offered in "
                 f"{elapsed:.1f} s: more than the budget's {allowed:.0f}")
        if peak > PEAK_RSS_LIMIT_KIB:
            fail(f"the hub's peak RSS was {peak // 1024} MiB (limit "
                 f"{PEAK_RSS_LIMIT_KIB // 1024} MiB): {counters}")
        print(f"ok: {STREAM} honest messages whole (longest delay {longest * 1000:.0f} ms) beside "
              f"{offered['sysex']} SysEx dumps and {offered['notes']} note-ons offered; "
              f"{counters['budget_dropped']} dropped over budget, {played} flood notes played; "
              f"hub peak RSS {peak / 1024:.1f} MiB")


if __name__ == "__main__":
    meshlab.main(test)
