#!/usr/bin/env python3
"""Zero configuration on one computer, with a real avahi-daemon on loopback and real JACK ports:
nodes started with nothing but their names find each other, agree on one hub and play MIDI to
each other; two meshes with different names stay apart; without avahi-daemon a node says what
is missing in one line and goes on, and finds the others once the daemon is there."""

import re

import meshlab
from meshlab import Lab, Proc, fail, midimesh
from probe import Probe, fnv1a

NOTE = bytes.fromhex("904064")


def start(lab: Lab, name: str, *extra: str) -> Proc:
    # Only what tells nodes on one computer apart: a name and the name of their MIDI ports.
    node = lab.spawn(name, [midimesh(), "--name", name, "--port-name", name, "--midi-api",
                            "jack", *extra])
    # One JACK client opening at a time: three opening at once against a synchronous (-S)
    # server left one hanging for over 15 s in a CI run here. Opening takes a few hundred ms,
    # well inside the election's 1.5 s grace, so the nodes still start together for mDNS.
    meshlab.wait_jack_client(node)
    return node


def settle(nodes: dict[str, Proc], what: str) -> str:
    """Waits until one of the nodes is hub and the others follow it; returns its name. Not the
    first hub each node joined: on a busy machine a node may find the others only after its
    election's grace and take the hub alone for a moment, as it should."""
    for node in nodes.values():
        node.wait_for_line(r"joined the mesh (as its hub|through hub)", 15, from_start=True)
    return meshlab.wait_until(lambda: meshlab.one_hub(nodes), 20,
                              f"{what}: one hub, followed by all of {list(nodes)}")


def expect(probe: Probe, messages: list[bytes]) -> None:
    got = probe.received(len(messages))
    if got["count"] != str(len(messages)) or got["checksum"] != fnv1a(messages):
        fail(f"{probe.name} got {got}; expected {len(messages)} message(s)")


def one_mesh(lab: Lab) -> None:
    nodes = {n: start(lab, n) for n in ("a", "b", "c")}
    hub = settle(nodes, "three nodes")
    pa = Probe(lab, "pa", send_to="a-in", recv_from="a-out")
    pb = Probe(lab, "pb", recv_from="b-out")
    pc = Probe(lab, "pc", recv_from="c-out")
    pa.send(NOTE)
    expect(pb, [NOTE])
    expect(pc, [NOTE])
    if pa.all_stats()["count"] != "0":
        fail("node A heard its own note")
    print(f"three nodes with no configuration formed one mesh around {hub}")


def two_meshes(lab: Lab) -> None:
    red = {n: start(lab, n, "--mesh", "red") for n in ("r1", "r2")}
    blue = {n: start(lab, n, "--mesh", "blue") for n in ("b1", "b2")}
    settle(red, "mesh red")
    settle(blue, "mesh blue")
    for node in (*red.values(), *blue.values()):
        for line in node.lines():
            if re.search(r'peer "(r|b)\d".* joined', line):
                other = re.search(r'peer "(\w+)"', line).group(1)
                if (other in red) != (node.name in red):
                    fail(f"{node.name} joined with {other} of the other mesh: {line}")
    pr1 = Probe(lab, "pr1", send_to="r1-in")
    pr2 = Probe(lab, "pr2", recv_from="r2-out")
    pb = [Probe(lab, f"p{n}", recv_from=f"{n}-out") for n in blue]
    pr1.send(NOTE)
    expect(pr2, [NOTE])
    # Blue's ports got nothing: a marker sent in blue afterwards is the only thing they play.
    pb1_in = Probe(lab, "pb1in", send_to="b1-in")
    marker = bytes.fromhex("f8")
    pb1_in.send(marker)
    expect(pb[1], [marker])
    if pb[0].all_stats()["count"] != "0":
        fail("mesh blue's b1 played something")
    print("meshes red and blue stayed apart")


def without_avahi(lab: Lab) -> None:
    alone = start(lab, "alone")
    alone.wait_for_line(r"avahi-daemon is not running.*--connect", 10)
    alone.wait_for_line(r"joined the mesh as its hub", 10)
    lab.start_avahi()
    other = start(lab, "other")
    other.wait_for_line(r"joined the mesh through hub \"alone\"", 15)
    complaints = [l for l in alone.lines() if "avahi-daemon is not running" in l]
    if len(complaints) != 1:
        fail(f"the missing daemon was reported {len(complaints)} times, not once")
    print("without avahi-daemon: one clear line, a mesh of one, and the others found later")


def test() -> None:
    with Lab() as lab:
        lab.start_jack()
        without_avahi(lab)
    with Lab() as lab:
        lab.start_jack()
        lab.start_avahi()
        one_mesh(lab)
    with Lab() as lab:
        lab.start_jack()
        lab.start_avahi()
        two_meshes(lab)


meshlab.main(test)
