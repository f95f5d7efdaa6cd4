#!/usr/bin/env python3
"""Forged sequence numbers cannot silence a sender (PROTOCOL.md section 2, issue 10).

A 1 kHz stream runs between two real nodes. Meanwhile an attacker, a WireClient written from
PROTOCOL.md, sends single messages under the honest sender's id with numbers of its choosing:
2^63, 2^64 - 1, just ahead of the sender's line (+100), and far behind it (0, once the sender is
past 4,096). Before the rule, the first of these muted the sender at every receiver for good
(every later message dropped as stale) and 2^64 - 1 made `lost` go down.

The test demands: every honest message played, in order, none delayed over 250 ms; the receiver
counts nothing lost and no restart, but one `out_of_line` per forged number, and says so in its
log; no counter goes backwards."""

from __future__ import annotations

import time

import msgpack

import meshlab
from honest_stream import HonestStream
from meshlab import Lab, fail, node_id, start_hub, stats, wait_until
from wireclient import MIDI, WireClient

STREAM = 6000  # messages, 6 s at 1 kHz
HARMLESS = b"\xb0\x10\x00"  # what the forger plays: a control change on channel 1


def forged(sender: str, seq: int) -> list[bytes]:
    envelope = msgpack.packb([1, MIDI, sender, seq, time.time_ns() // 1000, HARMLESS],
                             use_bin_type=True)
    return [sender.encode(), envelope]


def sender_line(spy: WireClient, sender: str) -> int:
    """The newest number the honest sender used, as heard through the hub (the forged ones come
    back too: they are far beyond what a 1 kHz stream reaches)."""
    newest = -1
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        m = spy.receive(50)
        if m is not None and m[0] == sender and m[2] < 1 << 32:
            newest = max(newest, m[2])
            if newest >= 0 and not spy.sub.poll(0):
                break
    if newest < 0:
        fail("heard nothing from the honest sender")
    return newest


def test() -> None:
    with Lab() as lab:
        _hub, port = start_hub(lab, extra=["--no-midi"])
        stream = HonestStream(lab, port)
        honest = node_id(stream.sender)
        attacker = WireClient("127.0.0.1", port, "attacker")
        lab.at_close(attacker.close)
        attacker.join()
        before = stats(stream.receiver)

        stream.start(STREAM)
        wait_until(lambda: stream.sent > 500, 10, "the stream to get going")
        attacks = {"2^63": 1 << 63, "2^64-1": (1 << 64) - 1}
        for what, seq in attacks.items():
            attacker.send_frames(forged(honest, seq))
            time.sleep(0.3)  # spacing the attacks along the stream, not waiting for a result
        attacker.send_frames(forged(honest, sender_line(attacker, honest) + 100))
        wait_until(lambda: stream.sent > 4096 + 500, 15, "the sender to pass 4,096 messages")
        time.sleep(0.2)  # spacing, as above
        attacker.send_frames(forged(honest, 0))
        forgeries = len(attacks) + 2
        longest = stream.finish()

        after = stats(stream.receiver)
        for key in after:
            if key in before and key not in ("peers", "term") and after[key] < before[key]:
                fail(f"counter {key} went backwards: {before[key]} -> {after[key]}")
        if after["lost"] != 0 or after["seq_resyncs"] != 0:
            fail(f"forged numbers were counted as loss ({after['lost']}) or restarts "
                 f"({after['seq_resyncs']})")
        if after["out_of_line"] != forgeries:
            fail(f"the receiver counted {after['out_of_line']} off-line numbers, not {forgeries}")
        stream.receiver.wait_for_line(r"numbered off its line", from_start=True)
        played_forgeries = stream.foreign.count(HARMLESS)
        print(f"{STREAM} honest messages played in order, longest delay {longest * 1000:.0f} ms;"
              f" {forgeries} forged numbers counted out_of_line, {played_forgeries} forged "
              "messages played (an open mesh cannot tell them apart), lost=0")


meshlab.main(test)
