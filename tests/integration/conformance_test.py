#!/usr/bin/env python3
"""The smaller departures from PROTOCOL.md found in issue 10, each fixed, while a 1 kHz stream
between two real nodes runs untouched (every message played, in order, none delayed over 250 ms):

(a) an envelope whose version is a uint64 (2^40) is counted `version_mismatch` at the hub, not
    `malformed`;
(b) a lone F7 as a `midi` payload is forwarded by the hub (it reads no payloads) but not played:
    the receiver counts it `malformed`;
(c) MIDI from a sender whose hello names another mesh is not played: counted `foreign_mesh`;
(d) a client subscribing and unsubscribing 200 times in a row costs the hub a few log lines,
    not one per change, and is counted in `subscription_changes`;
(e) garbage on the monitor port is closed, counted in `rejected_connections` and logged."""

from __future__ import annotations

import re
import socket

import msgpack
import zmq

import meshlab
from honest_stream import HonestStream
from meshlab import Lab, fail, start_hub, stats, wait_until
from wireclient import HELLO, MIDI, WireClient, hub_closes

STREAM = 5000
CHURN = 200


def test() -> None:
    with Lab() as lab:
        hub, port = start_hub(lab, extra=["--no-midi"])
        stream = HonestStream(lab, port)
        listener = stream.receiver
        client = WireClient("127.0.0.1", port, "oddities")
        lab.at_close(client.close)
        client.join()
        listener.wait_for_line(r'peer "oddities" .* joined')
        hub_before, node_before = stats(hub, "hub"), stats(listener)
        stream.start(STREAM)

        # (a) a version that needs 64 bits
        client.send_frames([client.id.encode(), msgpack.packb(
            [1 << 40, HELLO, client.id, 0, 0, b""], use_bin_type=True)])
        wait_until(lambda: stats(hub, "hub")["version_mismatch"] ==
                   hub_before["version_mismatch"] + 1, 10,
                   "the hub to count a uint64 version as version_mismatch")
        if stats(hub, "hub")["malformed"] != hub_before["malformed"]:
            fail("the hub counted a uint64 version as malformed")

        # (b) a lone F7
        client.send_midi(b"\xf7")
        wait_until(lambda: stats(listener)["malformed"] == node_before["malformed"] + 1, 10,
                   "the receiver to count a lone F7 as malformed")

        # (c) a sender of another mesh
        stranger = WireClient("127.0.0.1", port, "stranger")
        lab.at_close(stranger.close)
        if not stranger.pub.poll(10_000) or stranger.pub.recv() != b"\x01":
            fail("the hub never subscribed to the stranger")
        stranger.send(HELLO, msgpack.packb({"name": "stranger", "role": "node",
                                             "mesh": "elsewhere"}))
        listener.wait_for_line(r'ignoring peer "stranger" .* mesh "elsewhere"')
        stranger.send_midi(b"\x90\x3c\x64")
        wait_until(lambda: stats(listener)["foreign_mesh"] == 1, 10,
                   "the receiver to count MIDI from another mesh")

        # (d) subscription churn
        ctx = zmq.Context.instance()
        lines_before = sum("hub: receiver" in l or "hub: receivers:" in l for l in hub.lines())
        for i in range(CHURN):
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.INVERT_MATCHING, 1)
            # A topic of its own: the hub's XPUB reports a topic's first and last subscriber only.
            sub.setsockopt(zmq.SUBSCRIBE, f"churn{i:04}".encode())
            sub.connect(f"tcp://127.0.0.1:{port + 1}")
            # The hub sends nothing before our subscription arrives: a message proves it did.
            if not sub.poll(5000):
                fail("a churning subscriber received nothing")
            sub.close(0)
        wait_until(lambda: stats(hub, "hub")["subscription_changes"] >=
                   hub_before["subscription_changes"] + 2 * CHURN, 10,
                   f"the hub to count {CHURN} subscriptions and as many unsubscriptions")
        churn_lines = sum("hub: receiver" in l or "hub: receivers:" in l
                          for l in hub.lines()) - lines_before
        if churn_lines > 4:
            fail(f"{CHURN} subscribe/unsubscribe cycles gave {churn_lines} hub log lines")

        # (e) garbage on the monitor port
        rejected = stats(hub, "hub")["rejected_connections"]
        garbage = socket.create_connection(("127.0.0.1", port + 2), timeout=5)
        garbage.sendall(b"\xff" + bytes(8) + b"\x7f" + b"garbage" * 8)
        closed = hub_closes(garbage, 5)
        garbage.close()
        if not closed:
            fail("the hub kept garbage on its monitor port open")
        wait_until(lambda: stats(hub, "hub")["rejected_connections"] == rejected + 1, 10,
                   "the hub to count garbage on the monitor port")
        hub.wait_for_line(r"hub: closed a connection to the monitor port", from_start=True)

        longest = stream.finish()
        if b"\xf7" in stream.foreign or b"\x90\x3c\x64" in stream.foreign:
            fail(f"the receiver played what it must not: {stream.foreign}")
        after = stats(listener)
        if after["lost"] or after["out_of_line"] or after["seq_resyncs"]:
            fail(f"the stream's numbering was disturbed: {after}")
        print(f"{STREAM} honest messages played in order (longest delay "
              f"{longest * 1000:.0f} ms); uint64 version, lone F7, foreign mesh, "
              f"{CHURN} subscriptions ({churn_lines} log lines) and monitor-port garbage counted")


meshlab.main(test)
