#!/usr/bin/env python3
"""MIDI through the mesh, end to end through real JACK ports: a hub and three nodes on
127.0.0.1. What is written into node A's virtual input comes out of B's and C's virtual outputs
bit-exact and in order, and never out of A's own."""

import meshlab
from meshlab import Lab, fail, start_jack_mesh
from probe import Probe, fnv1a

# Every kind of MIDI 1.0 message, in the order they are sent.
EVERY_KIND = [bytes.fromhex(h) for h in [
    "903c64", "803c00", "a53c40", "b0077f", "c905", "d233", "e00040",  # channel voice
    "f123", "f21020", "f304", "f6",                                    # system common
    "f8", "fa", "fb", "fc", "fe", "ff",                                # realtime
    "f07e7f0601f7", "f0" + "15" * 200 + "f7",                         # SysEx
    "9f7f7f", "8f7f00",                                                # edges of the range
]]


def test() -> None:
    with Lab() as lab:
        hub, port, nodes = start_jack_mesh(lab, ["a", "b", "c"])
        pa = Probe(lab, "pa", send_to="a-in", recv_from="a-out")
        pb = Probe(lab, "pb", send_to="b-in", recv_from="b-out")
        pc = Probe(lab, "pc", recv_from="c-out")

        for message in EVERY_KIND:
            pa.send(message)
        want = {"count": str(len(EVERY_KIND)), "checksum": fnv1a(EVERY_KIND)}
        for probe in (pb, pc):
            got = probe.received(len(EVERY_KIND))
            if {k: got[k] for k in want} != want:
                fail(f"{probe.name} received {got}, expected {want}: not bit-exact or not in order")

        # A marker from B: once A's output has it, anything of A's own would have come first.
        marker = bytes.fromhex("f8")
        pb.send(marker)
        got = pa.received(1)
        if got["count"] != "1" or got["checksum"] != fnv1a([marker]):
            fail(f"node A's output played {got['count']} messages; expected only B's marker")
        pc.received(len(EVERY_KIND) + 1)
        print(f"{len(EVERY_KIND)} messages of every kind reached B and C bit-exact, none came "
              "back to A")


meshlab.main(test)
