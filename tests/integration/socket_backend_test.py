#!/usr/bin/env python3
"""The socket MIDI backend (tests and benchmarks only): MIDI pushed into one node's ipc input
comes out of the other nodes' ipc outputs bit-exact and in order, a 64 KiB SysEx included, and
never out of the sender's own."""

import zmq

import meshlab
from meshlab import Lab, fail, start_hub, start_node

MESSAGES = [bytes.fromhex(h) for h in ["903c64", "b0077f", "c905", "f8", "e00040", "803c00"]]
SYSEX = bytes([0xF0] + [i & 0x7F for i in range(64 * 1024 - 2)] + [0xF7])


def test() -> None:
    with Lab() as lab:
        ctx = zmq.Context.instance()
        _hub, port = start_hub(lab, extra=["--no-midi"])
        paths = {n: str(lab.dir / n) for n in ("a", "b", "c")}
        for name, path in paths.items():
            start_node(lab, name, port, ["--midi-api", "socket", "--port-name", path])
        inject = ctx.socket(zmq.PUSH)
        inject.connect(f"ipc://{paths['a']}-in")
        outputs = {}
        for name, path in paths.items():
            outputs[name] = ctx.socket(zmq.PULL)
            outputs[name].connect(f"ipc://{path}-out")
        lab.at_close(lambda: [s.close(0) for s in (inject, *outputs.values())])

        for message in MESSAGES + [SYSEX]:
            inject.send(message)
        for name in ("b", "c"):
            got = []
            while len(got) < len(MESSAGES) + 1 and outputs[name].poll(10_000):
                got.append(outputs[name].recv())
            if got != MESSAGES + [SYSEX]:
                fail(f"node {name} played {len(got)} message(s), not the {len(MESSAGES) + 1} "
                     "sent, in order and bit-exact")
        # A marker from b: once a plays it, anything of a's own would have come before it.
        marker = bytes.fromhex("fa")
        from_b = ctx.socket(zmq.PUSH)
        from_b.connect(f"ipc://{paths['b']}-in")
        lab.at_close(lambda: from_b.close(0))
        from_b.send(marker)
        if not outputs["a"].poll(10_000) or outputs["a"].recv() != marker:
            fail("node a played its own message, or not b's marker")
        print(f"{len(MESSAGES)} messages and a 64 KiB SysEx crossed the mesh through the "
              "socket backend")


meshlab.main(test)
