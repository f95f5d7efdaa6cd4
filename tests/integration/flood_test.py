#!/usr/bin/env python3
"""Two nodes play 10,000 messages each at the same time through real JACK ports; every receiver
gets all of them, in each sender's order, and no sender hears itself."""

import threading

import meshlab
from meshlab import Lab, fail, start_jack_mesh
from probe import Probe

COUNT = 10_000
RATE = 2_500  # per sender per second: paced, as a JACK port carries one period's worth at a time


def test() -> None:
    with Lab() as lab:
        start_jack_mesh(lab, ["a", "b", "c"])
        pa = Probe(lab, "pa", send_to="a-in", recv_from="a-out")
        pb = Probe(lab, "pb", send_to="b-in", recv_from="b-out")
        pc = Probe(lab, "pc", recv_from="c-out")

        # Channel 0 is A's burst, channel 1 is B's.
        other = threading.Thread(target=pb.burst, args=(COUNT, 1, RATE))
        other.start()
        pa.burst(COUNT, 0, RATE)
        other.join()

        expectations = [(pc, 0), (pc, 1), (pb, 0), (pa, 1)]
        for probe, channel in expectations:
            got = probe.channel(channel, COUNT)
            if got["count"] != COUNT or got["missing"] or got["reordered"]:
                fail(f"{probe.name} channel {channel}: {got}; expected {COUNT} in order")
        for probe, own in ((pa, 0), (pb, 1)):
            if probe.channel(own, 0, 0)["count"]:
                fail(f"{probe.name} heard its own node's burst")
        print(f"2 x {COUNT} messages at {RATE}/s each: complete and in order at every receiver")


meshlab.main(test)
