#!/usr/bin/env python3
"""A flooding client for fair_hub_test, in a process of its own.

It stands for another computer on the venue's network: it runs below the mesh's priority (the
lab's niceness plus 10), so it does not take the CPU of the nodes it attacks, as a flooder on
another computer could not; the hub still reads every byte it sends.

Usage: flooder.py PORT sysex|notes LIMIT
Prints "id ID" once joined and ready and stops itself (SIGSTOP); once continued (SIGCONT), floods
until LIMIT messages are offered or SIGTERM, and prints "offered N" last."""

from __future__ import annotations

import os
import signal
import sys

from wireclient import MIDI, WireClient

SYSEX = bytes([0xF0]) + bytes([0x55]) * (200_000 - 2) + bytes([0xF7])
FLOOD_NOTE = bytes([0x91, 60, 100])


def main() -> None:
    port, kind, limit = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    os.nice(10)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    if kind == "sysex":
        client = WireClient("127.0.0.1", port, "sysex flood", hwm=1000)
        frames = None
    else:
        client = WireClient("127.0.0.1", port, "note flood")
    client.join()
    if kind != "sysex":
        # Numbered and packed ahead, so that sending is all the flood does.
        frames = [[client.id.encode(), client.envelope(MIDI, FLOOD_NOTE)] for _ in range(limit)]
    print(f"id {client.id}", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)  # until the test's stream runs
    offered = 0
    while offered < limit and not stopping:
        if frames is None:
            client.send(MIDI, SYSEX)
        else:
            client.send_frames(frames[offered])
        offered += 1
    print(f"offered {offered}", flush=True)
    client.close()


if __name__ == "__main__":
    main()
