#!/usr/bin/env python3
"""SysEx across the mesh: the largest SysEx a JACK port carries at the test's period goes from
node A's input to B's and C's outputs intact; a 64 KiB SysEx crosses the mesh intact between two
protocol clients, and a node whose MIDI backend cannot carry it says so and counts it."""

import re

import meshlab
from meshlab import Lab, fail, start_jack_mesh, stats
from probe import Probe, fnv1a, sysex
from wireclient import MIDI, WireClient

BIG = 64 * 1024


def test() -> None:
    with Lab() as lab:
        hub, port, nodes = start_jack_mesh(lab, ["a", "b", "c"])
        # The node's own limit for its backend, as it logged it at startup.
        limit = int(nodes["a"].wait_for_line(r"midi: JACK.*messages up to (\d+) bytes", from_start=True)
                    .group(1))
        pa = Probe(lab, "pa", send_to="a-in")
        pb = Probe(lab, "pb", recv_from="b-out")
        pc = Probe(lab, "pc", recv_from="c-out")
        pa.send_sysex(limit)
        for probe in (pb, pc):
            got = probe.received(1)
            if got["bytes"] != str(limit) or got["checksum"] != fnv1a([sysex(limit)]):
                fail(f"{probe.name} got {got}; expected one {limit}-byte SysEx intact")
        print(f"a {limit}-byte SysEx (the JACK port's limit) crossed from A's input to B and C")

        sender = WireClient("127.0.0.1", port, "big-sender")
        receiver = WireClient("127.0.0.1", port, "big-receiver")
        for client in (sender, receiver):
            lab.at_close(client.close)
            client.join()
        nodes["b"].wait_for_line(r'peer "big-sender" .* joined', from_start=True)
        big = sysex(BIG)
        sender.send_midi(big)

        def big_arrived():
            while (m := receiver.receive(100)) is not None:
                sender_id, mtype, _seq, payload = m
                if sender_id == sender.id and mtype == MIDI:
                    return payload
            return None
        payload = meshlab.wait_until(big_arrived, 20, "the 64 KiB SysEx at the other client")
        if payload != big:
            fail(f"the 64 KiB SysEx arrived changed ({len(payload)} bytes)")
        print(f"a {BIG}-byte SysEx crossed the mesh intact")

        # Node B cannot play it through JACK: one clear line and a counter, and B goes on.
        nodes["b"].wait_for_line(rf"could not play a {BIG}-byte message from \"big-sender\".*"
                                 rf"larger than the backend carries \({limit} bytes\)", 10,
                                 from_start=True)
        b = stats(nodes["b"])
        if b["backend_rejected"] != 1 or b["midi_received"] < 2:
            fail(f"node B's counters do not show the refused SysEx: {b}")
        pa.send(bytes.fromhex("903c64"))
        got = pb.received(2)
        if got["count"] != "2":
            fail(f"node B stopped playing after refusing the SysEx: {got}")


meshlab.main(test)
