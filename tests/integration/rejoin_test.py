#!/usr/bin/env python3
"""A node that leaves the mesh, cleanly or killed, and starts again gets traffic again; the
others never stop getting it meanwhile."""

import meshlab
from meshlab import Lab, Proc, fail, start_jack_mesh, start_socket_node
from probe import Probe, fnv1a
from socket_midi import Reader

NOTE = bytes.fromhex("904040")


def expect(probe: Probe, messages: list[bytes]) -> None:
    got = probe.received(len(messages))
    if got["count"] != str(len(messages)) or got["checksum"] != fnv1a(messages):
        fail(f"{probe.name} got {got}; expected {len(messages)} messages")


def start_c(lab: Lab, hub: Proc, port: int, run: int) -> tuple[Proc, Reader]:
    """Node C on the socket backend, with a reader of its output of its own: a C that leaves
    plays note-offs for what it holds, and those must not pass for the next C's traffic."""
    path = str(lab.dir / f"c{run}")
    output = Reader(f"{path}-out")
    lab.at_close(output.close)
    return start_socket_node(lab, hub, "c", port, path), output


def expect_c(output: Reader) -> None:
    if (got := output.recv(10)) != NOTE:
        fail(f"node c played {got!r}, not {NOTE!r}")


def test() -> None:
    with Lab() as lab:
        # C, the node that is SIGKILLed, plays through the socket backend (start_socket_node):
        # under an asynchronous JACK server B played 6 of 6 and its JACK reader got 5 (ci28).
        # A and B, on a synchronous server, lose nothing in JACK.
        hub, port, _ = start_jack_mesh(lab, ["a", "b"])
        pa = Probe(lab, "pa", send_to="a-in")
        pb = Probe(lab, "pb", recv_from="b-out")
        c, output = start_c(lab, hub, port, 1)
        for run, leave in enumerate(("terminate", "kill"), start=2):
            pa.send(NOTE)
            expect_c(output)
            getattr(c, leave)()
            pa.send(NOTE)  # while C is away, B still plays
            c, output = start_c(lab, hub, port, run)
            pa.send(NOTE)
            expect_c(output)
        expect(pb, [NOTE] * 6)
        print("C left twice (SIGTERM, SIGKILL), came back and got traffic; B never missed any")


meshlab.main(test)
