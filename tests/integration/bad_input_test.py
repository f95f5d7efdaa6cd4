#!/usr/bin/env python3
"""Bad input never breaks the mesh (PROTOCOL.md section 3, "what to do with unexpected input").

A headless hub, two headless nodes and a few WireClients. The test proves:

(a) raw bytes that are not ZeroMQ, sent over plain TCP to both hub ports (seeded random bytes, a
    garbled ZMTP greeting, an HTTP request, and a half-open connection that sends three bytes
    and stays open), are logged by the hub ("does not speak ZeroMQ") and each is counted once
    in the hub's `rejected_connections`;
(b) every malformed message a protocol client can send is dropped with the documented counter
    and log line: at the hub a malformed or truncated envelope and a 1- or 3-frame message
    (`malformed`), a topic that is not the sender (`spoofed`), a version-2 envelope
    (`version_mismatch`); the hub forwards an unknown type 99 and a `midi` payload that is not a
    complete MIDI message, and the nodes count them as `unknown_type` and `malformed`. A frame
    over 512 KiB is dropped and counted `too_large` (the connection stays); one over 1 MiB
    makes the hub's ZeroMQ (ZMQ_MAXMSGSIZE) close the sender's connection: the sender
    reconnects by itself and is heard again; nobody receives either frame;
(c) a client speaking protocol version 2 is dropped by the hub (the nodes never see it): every
    message is counted in `version_mismatch`, but the hub logs it once, not once per message;
(d) through all of this the mesh keeps working: a WireClient's MIDI reaches both nodes, and the
    hub exits 0 on SIGTERM.

Known deviation (see STRICT_ZMTP_REJECTION): PROTOCOL.md says libzmq closes a connection that
is not ZMTP. It does so only for bytes starting with 0xFF (a ZMTP 3 greeting gone wrong);
anything else is taken for a ZMTP 1.0 peer and kept open (on the subscribe port it even gets
mesh traffic), and a stalled greeting is kept for ZMQ_HANDSHAKE_IVL (30 s). Every one of them is
counted and logged at the latest when it closes; by default this test closes what the hub kept.
"""

from __future__ import annotations

import random
import re
import socket
import time

import msgpack
import zmq
import zmq.utils.monitor

import meshlab
from meshlab import Lab, Proc, fail, start_hub, start_node, stats, wait_until
from wireclient import HELLO, MIDI, WireClient, hub_closes, new_id

# True once the hub itself closes every non-ZMTP connection within a second (ZAP enabled to
# refuse ZMTP 1.0 peers, a short ZMQ_HANDSHAKE_IVL): then the test demands it.
STRICT_ZMTP_REJECTION = True
HUB_CLOSE_GRACE = 1.0  # seconds we give the hub to close a garbage connection itself
GARBAGE_LOG = r"hub: closed a connection to the (publish|subscribe) port .* does not speak ZeroMQ"
MAX_FRAME = 524_288  # PROTOCOL.md section 4


# --- (a) garbage over plain TCP -----------------------------------------------------------------

GARBAGE = {
    "random bytes": random.Random(1234).randbytes(64),
    "a garbled ZMTP greeting": b"\xff" + bytes(8) + b"\x7f" + random.Random(99).randbytes(54),
    "an HTTP request": b"GET / HTTP/1.1\r\nHost: midimesh\r\n\r\n",
}
HALF_OPEN = b"\xff\x00\x00"  # the start of a ZMTP greeting, never finished


def send_raw(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(data)
    return sock


def throw_garbage(hub: Proc, port: int) -> tuple[int, socket.socket]:
    """Every GARBAGE case to both hub ports, one connection each, then a half-open connection
    that stays open. Returns how many connections ended, and the half-open socket."""
    ended = 0
    for base in (port, port + 1):
        for what, data in GARBAGE.items():
            sock = send_raw(base, data)
            closed = hub_closes(sock, HUB_CLOSE_GRACE)
            sock.close()
            ended += 1
            if closed:
                continue
            note = f"the hub kept {what} to port {base} open for {HUB_CLOSE_GRACE:g} s"
            if STRICT_ZMTP_REJECTION:
                fail(note)
            print(f"NOTE: {note} (taken for a ZMTP 1.0 peer); the test closed it")
        wait_until(lambda: stats(hub, "hub")["rejected_connections"] >= ended, 10,
                   f"the hub to count {ended} rejected connections")
    half_open = send_raw(port, HALF_OPEN)
    return ended, half_open


# --- (b) bad messages through a protocol client --------------------------------------------------

def unnumbered_envelope(client: WireClient, mtype: int, payload: bytes, **kw) -> bytes:
    """An envelope that does not use up a sequence number: the hub drops it, and the nodes
    must not see a gap in this client's numbers when its next accepted message comes."""
    seq = client.seq
    frame = client.envelope(mtype, payload, **kw)
    client.seq = seq
    return frame


def hello_payload(name: str) -> bytes:
    return msgpack.packb({"name": name, "role": "node", "program": "bad_input_test"})


def refused_at_hub(client: WireClient) -> list[tuple[str, list[bytes]]]:
    """(what, frames) of every message the hub must drop, and the log phrase of its kind."""
    topic = client.id.encode()
    good = unnumbered_envelope(client, MIDI, b"\x90\x3c\x64")
    return [
        ("malformed envelope", [topic, msgpack.packb({"not": "an envelope"})]),
        ("malformed envelope", [topic, good[:-3]]),  # truncated
        ("wrong number of frames", [topic]),
        ("wrong number of frames", [topic, good, b"a third frame"]),
        ("topic does not match sender", [new_id().encode(), good]),
        ("other protocol version", [topic, unnumbered_envelope(client, HELLO, hello_payload(
            client.name), version=2)]),
    ]


def check_refusals(hub: Proc, garbler: WireClient) -> None:
    messages = refused_at_hub(garbler)
    for _what, frames in messages:
        garbler.send_frames(frames)
    expected = {"malformed": 4, "spoofed": 1, "version_mismatch": 1}
    wait_until(lambda: all(stats(hub, "hub")[k] == v for k, v in expected.items()), 10,
               f"hub counters {expected}")
    for what in dict.fromkeys(w for w, _ in messages):
        if not any(re.search(rf"hub: dropped a message from [0-9a-f]{{16}}: {what}", l)
                   for l in hub.lines()):
            fail(f"the hub logged no line for a message with {what}")


def check_forwarded_oddities(nodes: list[Proc], garbler: WireClient) -> None:
    """Unknown type 99 and a broken MIDI payload pass the hub; each node drops and counts them."""
    garbler.send(99, b"from a later revision")
    garbler.send_midi(b"\x90\x3c")  # a note-on missing its velocity
    want = {"unknown_type": 1, "malformed": 1}
    for node in nodes:
        wait_until(lambda: {k: stats(node)[k] for k in want} == want, 10,
                   f"{node.name} to count {want}")
        node.wait_for_line(r'node: dropped an invalid MIDI message \(2 bytes\) from "garbler"',
                           from_start=True)


def received(nodes: list[Proc]) -> list[int]:
    return [stats(n)["midi_received"] for n in nodes]


def check_oversized_frames(hub: Proc, nodes: list[Proc], port: int) -> None:
    """A frame over the protocol's 512 KiB limit is dropped and counted by the hub, which keeps
    the sender's connection; one over twice that is refused by ZeroMQ itself (ZMQ_MAXMSGSIZE),
    which drops the connection: the sender reconnects by itself. Nobody receives either."""
    big = WireClient("127.0.0.1", port, "bigsender")
    try:
        monitor = big.pub.get_monitor_socket(zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECTED)
        big.join()
        events = []

        def saw(event: int) -> bool:
            while monitor.poll(20):
                events.append(zmq.utils.monitor.recv_monitor_message(monitor)["event"])
            return event in events

        def send_big(payload_size: int) -> None:
            frame = unnumbered_envelope(big, MIDI, b"\xf0" + bytes(payload_size) + b"\xf7")
            assert len(frame) > payload_size
            big.send_frames([big.id.encode(), frame])

        def clock_arrives_once(before: list[int], what: str) -> None:
            big.send_midi(b"\xf8")
            wait_until(lambda: received(nodes) == [n + 1 for n in before], 10,
                       f"each node to receive one clock message {what}")

        # Just over the limit: counted, logged, connection kept.
        hub_before, nodes_before = stats(hub, "hub"), received(nodes)
        send_big(MAX_FRAME)
        wait_until(lambda: stats(hub, "hub")["too_large"] == hub_before["too_large"] + 1, 10,
                   "the hub to count a frame over 512 KiB as too_large")
        hub.wait_for_line(r"hub: dropped a message from [0-9a-f]{16}: message too large", 10,
                          from_start=True)
        clock_arrives_once(nodes_before, "after the too-large frame")
        if saw(zmq.EVENT_DISCONNECTED):
            fail("the hub dropped the connection of a client that sent a 512 KiB+ frame")

        # Far over it: ZeroMQ drops the connection before the hub sees the frame.
        hub_before, nodes_before = stats(hub, "hub"), received(nodes)
        send_big(2 * MAX_FRAME + 1)
        wait_until(lambda: saw(zmq.EVENT_DISCONNECTED), 10,
                   "the hub to drop the connection of a client that sent a 1 MiB+ frame")

        def reconnected() -> bool:
            saw(zmq.EVENT_CONNECTED)
            return zmq.EVENT_CONNECTED in events[events.index(zmq.EVENT_DISCONNECTED):]

        wait_until(reconnected, 10, "the client to reconnect after the hub dropped it")
        # A connecting ZeroMQ socket keeps its queue and the hub's subscription across a
        # reconnect: one clock message sent now must reach each node, exactly once.
        clock_arrives_once(nodes_before, "after the reconnect")
        # Stopped before its reader closes: libzmq would block on the next event (issue 3575).
        big.pub.disable_monitor()
        monitor.close(0)
    finally:
        big.close()
    hub_after = stats(hub, "hub")
    for key in ("too_large", "malformed", "rejected_connections"):
        if hub_after[key] != hub_before[key]:
            fail(f"a 1 MiB+ frame moved hub counter {key}: {hub_before[key]} -> {hub_after[key]}")
    big_received = [s["midi_received_bytes"] for s in map(stats, nodes)]
    if any(b >= MAX_FRAME for b in big_received):
        fail(f"a node received an oversized frame (midi_received_bytes {big_received})")


# --- (c) a client of protocol version 2 ----------------------------------------------------------

def check_version_2_client(hub: Proc, nodes: list[Proc], port: int, burst: int = 20) -> None:
    future = WireClient("127.0.0.1", port, "future")
    try:
        # It cannot join (the hub never answers a v2 hello); its publishing socket (an XPUB)
        # sees the hub subscribe, after which nothing it sends is dropped on its side.
        if not future.pub.poll(10_000) or future.pub.recv()[:1] != b"\x01":
            fail("the hub never subscribed to the version-2 client's messages")
        first = stats(hub, "hub")["version_mismatch"]
        began = time.monotonic()
        for _ in range(burst):
            future.send_frames([future.id.encode(),
                                future.envelope(HELLO, hello_payload("future"), version=2)])
        wait_until(lambda: stats(hub, "hub")["version_mismatch"] == first + burst, 10,
                   f"the hub to count {burst} version-2 hellos")
        elapsed = time.monotonic() - began
    finally:
        future.close()
    lines = [l for l in hub.lines() if "other protocol version" in l]
    if len(lines) != 1:
        fail(f"{first + burst} version-2 messages in {elapsed:.1f} s gave {len(lines)} hub log "
             f"lines (want 1: one line per 5 s per kind):\n" + "\n".join(lines))
    for node in nodes:
        if stats(node)["version_mismatch"] != 0 or any("ignoring peer" in l for l in node.lines()):
            fail(f"{node.name} saw a version-2 message: the hub should have dropped it")


# --- (d) the mesh still works --------------------------------------------------------------------

def check_mesh_works(nodes: list[Proc], port: int) -> None:
    player = WireClient("127.0.0.1", port, "player")
    try:
        player.join()
        before = received(nodes)
        player.send_midi(b"\x90\x3c\x64")
        wait_until(lambda: all(now == was + 1 for now, was in zip(received(nodes), before)), 10,
                   "both nodes to receive the player's note-on")
    finally:
        player.close()


def test() -> None:
    with Lab() as lab:
        hub, port = start_hub(lab, extra=["--no-midi"])
        nodes = [start_node(lab, name, port, ["--no-midi"]) for name in ("left", "right")]

        ended, half_open = throw_garbage(hub, port)
        if not any(re.search(GARBAGE_LOG, l) for l in hub.lines()):
            fail("the hub counted garbage connections but logged none")

        garbler = WireClient("127.0.0.1", port, "garbler")
        lab.at_close(garbler.close)
        garbler.join()
        for node in nodes:
            node.wait_for_line(r'peer "garbler" .* joined')
        check_refusals(hub, garbler)
        check_version_2_client(hub, nodes, port)
        check_forwarded_oddities(nodes, garbler)
        check_oversized_frames(hub, nodes, port)
        check_mesh_works(nodes, port)

        # The half-open connection (a stalled greeting) is closed once the hub's handshake
        # timeout (2 s) has passed, and counts once.
        closed = hub_closes(half_open, 10)
        half_open.close()
        if STRICT_ZMTP_REJECTION and not closed:
            fail("the hub kept a half-open connection (a stalled greeting) open")
        wait_until(lambda: stats(hub, "hub")["rejected_connections"] == ended + 1, 10,
                   f"the hub to count {ended + 1} rejected connections")

        if not hub.alive():
            fail(f"the hub died (exit code {hub.returncode})")
        code = hub.terminate()
        if code != 0:
            fail(f"the hub exited with code {code} on SIGTERM")


meshlab.main(test)
