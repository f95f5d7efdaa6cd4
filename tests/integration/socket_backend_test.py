#!/usr/bin/env python3
"""The socket MIDI backend (tests and benchmarks only): MIDI written into one node's input socket
comes out of the other nodes' output sockets bit-exact and in order, a 64 KiB SysEx included, and
never out of the sender's own."""

import meshlab
from meshlab import Lab, fail, start_hub, start_node
from socket_midi import Reader, writer

MESSAGES = [bytes.fromhex(h) for h in ["903c64", "b0077f", "c905", "f8", "e00040", "803c00"]]
SYSEX = bytes([0xF0] + [i & 0x7F for i in range(64 * 1024 - 2)] + [0xF7])


def test() -> None:
    with Lab() as lab:
        _hub, port = start_hub(lab, extra=["--no-midi"])
        paths = {n: str(lab.dir / n) for n in ("a", "b", "c")}
        outputs = {name: Reader(f"{path}-out") for name, path in paths.items()}
        lab.at_close(lambda: [r.close() for r in outputs.values()])
        for name, path in paths.items():
            start_node(lab, name, port, ["--midi-api", "socket", "--port-name", path])
        inject = writer(f"{paths['a']}-in")
        lab.at_close(inject.close)

        for message in MESSAGES + [SYSEX]:
            inject.send(message)
        for name in ("b", "c"):
            got = []
            while len(got) < len(MESSAGES) + 1 and (m := outputs[name].recv(10)) is not None:
                got.append(m)
            if got != MESSAGES + [SYSEX]:
                fail(f"node {name} played {len(got)} message(s), not the {len(MESSAGES) + 1} "
                     "sent, in order and bit-exact")
        # A marker from b: once a plays it, anything of a's own would have come before it.
        marker = bytes.fromhex("fa")
        from_b = writer(f"{paths['b']}-in")
        lab.at_close(from_b.close)
        from_b.send(marker)
        if outputs["a"].recv(10) != marker:
            fail("node a played its own message, or not b's marker")
        print(f"{len(MESSAGES)} messages and a 64 KiB SysEx crossed the mesh through the "
              "socket backend")


meshlab.main(test)
