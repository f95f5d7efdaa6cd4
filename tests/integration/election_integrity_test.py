#!/usr/bin/env python3
"""Election integrity (ELECTION.md rules 1, 4, 7, 8), with real processes, a real avahi-daemon on
loopback and real JACK ports, MIDI flowing at 1 kHz in both directions between two followers.

(a) two forced hubs: two `--hub` nodes and two zero-config followers settle on one hub (same
    priority: the smaller id), the other hub stands by following it; from then on, over 16 s of
    streaming, each node changes hub at most once (in practice none), nothing is lost or
    reordered and the term stays small;
(b) forgeries from a WireClient (written from PROTOCOL.md) connected to the real hub: a hello
    claiming the hub with `forced: true`, one with a term of 2^62, a hello of term 2^62 that
    claims nothing, and beacons claiming the hub (forced) at a port where nothing answers and at
    the real hub's own port. The real hub stays hub, no follower moves, the stream loses
    nothing, and every node counts the forgeries (`refused_claims`, `unanswered_claims`) and
    logs each forger once.
"""

from __future__ import annotations

import os
import time

import msgpack

import meshlab
from meshlab import Lab, Proc, fail, midimesh, stats, wait_until
from probe import Probe
from wireclient import HELLO, WireClient

RATE = 1000
COUNT = 16_000  # 16 s at 1 kHz; the probe's counter holds 14 bits
MAX_GAP_S = 1.0  # a hub change or a stall would show as a gap this long
BEACON = 4
# Our own mesh: other tests on this machine may share the avahi-daemon, and "default" with it.
MESH = f"integrity{os.getpid()}"


def follower(lab: Lab, name: str) -> Proc:
    return lab.spawn(name, [midimesh(), "--name", name, "--port-name", name, "--midi-api", "jack",
                            "--mesh", MESH])


def forced_hub(lab: Lab, name: str) -> Proc:
    return lab.spawn(name, [midimesh(), "--hub", "--name", name, "--no-midi",
                            "--port", str(lab.free_port()), "--mesh", MESH])


def settle(nodes: dict[str, Proc], what: str) -> str:
    return wait_until(lambda: meshlab.one_hub(nodes), 20,
                      f"{what}: one hub followed by all of {list(nodes)}")


def stream(lab: Lab, a: str, b: str, during=None) -> None:
    """COUNT messages each way between followers a and b at RATE; once both streams flow, calls
    during() every half second (an attacker repeats its claims, as a hub its beacon; a claimant
    gone silent is forgotten before its check ends). Checks each arrives complete, in order,
    without a long gap."""
    pa = Probe(lab, f"p{a}", send_to=f"{a}-in", recv_from=f"{a}-out", verbose=True)
    pb = Probe(lab, f"p{b}", send_to=f"{b}-in", recv_from=f"{b}-out", verbose=True)
    pa.start_burst(COUNT, 0, RATE)
    pb.start_burst(COUNT, 1, RATE)
    for p in (pa, pb):
        if p.next_recv(time.monotonic() + 10) is None:
            fail(f"{p.name} received nothing of the stream")
    # Read both as the messages come: each line's time is when it was read.
    want = {pb: 0, pa: 1}
    seen = {pa: 0, pb: 0}
    deadline = time.monotonic() + COUNT / RATE + 30
    next_during = time.monotonic()
    while min(seen.values()) < COUNT and time.monotonic() < deadline:
        if during and time.monotonic() >= next_during:
            during()
            next_during += 0.5
        for p, channel in want.items():
            if seen[p] < COUNT and (got := p.next_recv(time.monotonic() + 0.002)):
                seen[p] += got[1][:1] == bytes([0xA0 | channel])
    # (The probes' "burst" replies were read above with the messages: both bursts are over once
    # every message arrived, and a short count shows below.)
    for probe, channel in want.items():
        got = probe.channel(channel, COUNT)
        if got["count"] != COUNT or got["missing"] or got["reordered"]:
            fail(f"{probe.name} channel {channel}: {got}; expected {COUNT} in order")
        times = [t for t, m in probe.recv_log if len(m) == 3 and m[0] == 0xA0 | channel]
        gap = max(b - a for a, b in zip(times, times[1:]))
        print(f"{probe.name}: {COUNT} of {COUNT} in order, longest gap {gap * 1000:.0f} ms",
              flush=True)
        if gap > MAX_GAP_S:
            fail(f"{probe.name}: a gap of {gap * 1000:.0f} ms in the stream")


def two_forced_hubs() -> None:
    with Lab() as lab:
        lab.start_jack()
        lab.start_avahi()
        nodes = {"h1": forced_hub(lab, "h1"), "h2": forced_hub(lab, "h2")}
        nodes |= {n: follower(lab, n) for n in ("f1", "f2")}
        for node in nodes.values():
            node.wait_for_line(r"midi: (JACK|MIDI ports disabled)", 30, from_start=True)
        hub = settle(nodes, "two forced hubs")
        ids = {n: meshlab.node_id(p) for n, p in nodes.items()}
        expected = min(("h1", "h2"), key=lambda n: ids[n])
        if hub != expected:
            fail(f"the hubs settled on {hub}; expected {expected} (same priority: smaller id)")
        standby = "h2" if hub == "h1" else "h1"
        before = {n: stats(p) for n, p in nodes.items()}
        print(f"settled on {hub}; {standby} stands by; hub changes so far "
              + ", ".join(f"{n}={s['hub_changes']}" for n, s in before.items()), flush=True)
        stream(lab, "f1", "f2")
        after = {n: stats(p) for n, p in nodes.items()}
        changes = {n: after[n]["hub_changes"] - before[n]["hub_changes"] for n in nodes}
        print(f"hub changes after settling: {changes}; terms "
              f"{ {n: s['term'] for n, s in after.items()} }", flush=True)
        if any(c > 1 for c in changes.values()):
            fail(f"more than one hub change after settling: {changes}")
        if meshlab.one_hub(nodes) != hub:
            fail(f"the mesh no longer settles on {hub}")
        if max(s["term"] for s in after.values()) > 3:
            fail(f"terms climbed: { {n: s['term'] for n, s in after.items()} }")


def hub_port(hub: Proc) -> int:
    m = hub.wait_for_line(r"hub: forwarding: nodes publish to tcp://.*:(\d+) and subscribe", from_start=True)
    return int(m.group(1))


def forgers(lab: Lab, port: int) -> list[WireClient]:
    """Four protocol clients joined to the hub (before the stream: a client that joins reads
    everything until the mesh is quiet)."""
    clients = [WireClient("127.0.0.1", port, f"forger{i}") for i in range(4)]
    for c in clients:
        lab.at_close(c.close)
        c.join()
    return clients


def forge(clients: list[WireClient], port: int) -> None:
    def payload(client: WireClient, **fields) -> bytes:
        return msgpack.packb({"name": client.name, "program": "forger", "mesh": MESH,
                              "hub": client.id, **fields})

    forced, huge, quiet, beacons = clients
    forced.send(HELLO, payload(forced, role="hub", forced=True, term=2, priority=100))
    huge.send(HELLO, payload(huge, role="hub", term=2**62))
    quiet.send(HELLO, payload(quiet, role="node", hub="", term=2**62))
    # Beacons claim the hub second-hand: each node checks the claimant's proxy, where nothing
    # answers (a closed port), or where the real hub listens (refused outright).
    beacons.send(HELLO, payload(beacons, role="node", hub="", hub_port=1, address="127.0.0.1"))
    beacons.send(BEACON, payload(beacons, role="hub", forced=True, term=3, hub_port=1,
                                 address="127.0.0.1"))
    forced.send(BEACON, payload(forced, role="hub", forced=True, term=3, hub_port=port,
                                address="127.0.0.1"))


def forged_claims() -> None:
    with Lab() as lab:
        lab.start_jack()
        lab.start_avahi()
        nodes = {n: follower(lab, n) for n in ("a", "b", "c")}
        for node in nodes.values():
            meshlab.wait_jack_client(node)
        hub = settle(nodes, "three nodes")
        a, b = [n for n in nodes if n != hub]
        port = hub_port(nodes[hub])
        clients = forgers(lab, port)
        before = {n: stats(p) for n, p in nodes.items()}
        stream(lab, a, b, lambda: forge(clients, port))
        for n, p in nodes.items():
            wait_until(lambda: stats(p)["refused_claims"] - before[n]["refused_claims"] >= 3
                       and stats(p)["unanswered_claims"] > before[n]["unanswered_claims"],
                       10, f"{n} to count the forged claims")
        after = {n: stats(p) for n, p in nodes.items()}
        for n in nodes:
            if after[n]["hub_changes"] != before[n]["hub_changes"]:
                fail(f"{n} changed hub under the forgeries")
            print(f"{n}: refused_claims={after[n]['refused_claims']} "
                  f"unanswered_claims={after[n]['unanswered_claims']} term={after[n]['term']}",
                  flush=True)
            if after[n]["term"] != before[n]["term"]:
                fail(f"{n}: the term moved from {before[n]['term']} to {after[n]['term']}")
            lines = [l for l in nodes[n].lines() if "refused a hub claim from" in l]
            for f in (c.id for c in clients):
                mine = [l for l in lines if f in l]
                if len(mine) > 1:
                    fail(f"{n} logged forger {f} {len(mine)} times:\n" + "\n".join(mine))
            if not lines:
                fail(f"{n} logged no refused claim")
        if meshlab.one_hub(nodes) != hub:
            fail(f"{hub} is no longer the one hub")


def test() -> None:
    two_forced_hubs()
    forged_claims()


meshlab.main(test)
