#!/usr/bin/env python3
"""Stuck-note protection: a note left sounding by a sender that goes away is released on every
receiver's output, whether the sender leaves cleanly (goodbye, also on SIGHUP), is killed
(silence past the timeout), or the receiver itself shuts down."""

import os
import signal
import socket

import meshlab
from meshlab import Lab, fail, start_jack_mesh, start_jack_node, start_socket_node
from probe import Probe, fnv1a
from socket_midi import writer

NOTE_ON = bytes.fromhex("903c64")     # middle C, channel 1
SUSTAIN_ON = bytes.fromhex("b0407f")  # pedal down, channel 1
NOTE_OFF = bytes.fromhex("803c00")
SUSTAIN_OFF = bytes.fromhex("b04000")


def expect_release(probe: Probe, what: str) -> None:
    """`probe` played the held note and pedal, then exactly note-off and sustain-off."""
    played = [NOTE_ON, SUSTAIN_ON, NOTE_OFF, SUSTAIN_OFF]
    got = probe.received(len(played))
    if got["count"] != str(len(played)) or got["checksum"] != fnv1a(played):
        fail(f"{probe.name}: {what}: got {got}, expected note-on, sustain on, note-off, "
             "sustain off")


def hold_note(sender: Probe | socket.socket, receivers: list[Probe]) -> None:
    sender.send(NOTE_ON)
    sender.send(SUSTAIN_ON)
    for probe in receivers:
        if probe.received(2)["count"] != "2":
            fail(f"{probe.name} did not play the held note")


def test() -> None:
    with Lab() as lab:
        # D, the node that is SIGKILLed, plays through the socket backend (start_socket_node).
        hub, port, nodes = start_jack_mesh(lab, ["a", "b", "c"])
        d_path = str(lab.dir / "d")
        nodes["d"] = start_socket_node(lab, hub, "d", port, d_path)
        pa = Probe(lab, "pa", send_to="a-in")
        pd = writer(f"{d_path}-in")
        lab.at_close(pd.close)
        pb = Probe(lab, "pb", recv_from="b-out")
        pc = Probe(lab, "pc", recv_from="c-out")

        # 1. The sender leaves cleanly: its goodbye releases its notes at once.
        hold_note(pa, [pb, pc])
        nodes["a"].terminate()
        for probe, node in ((pb, nodes["b"]), (pc, nodes["c"])):
            node.wait_for_line(r'peer "a" .* left')
            expect_release(probe, "after A said goodbye")
            probe.reset()

        # 2. The sender is killed: no goodbye, so the release follows its silence.
        hold_note(pd, [pb, pc])
        nodes["d"].kill()
        for probe, node in ((pb, nodes["b"]), (pc, nodes["c"])):
            node.wait_for_line(r'peer "d" .* went silent')
            expect_release(probe, "after D was killed")
            probe.reset()

        # 3. The receiver shuts down: it releases what it still plays before closing its ports.
        a2 = start_jack_node(lab, hub, "a", port)
        pa2 = Probe(lab, "pa2", send_to="a-in")
        hold_note(pa2, [pb, pc])
        nodes["b"].terminate()
        expect_release(pb, "while B shut down")

        # 4. The sender's terminal closes (SIGHUP, a dropped ssh): it leaves as on SIGTERM.
        pc.reset()
        hold_note(pa2, [pc])
        os.kill(a2.pid, signal.SIGHUP)
        if a2.wait(10) != 0:
            fail(f"A exited {a2.returncode} on SIGHUP, not 0:\n{a2.tail()}")
        nodes["c"].wait_for_line(r'peer "a" .* left \(shutting down\)')
        expect_release(pc, "after A's terminal closed (SIGHUP)")
        if nodes["c"].alive():
            print("held notes were released on goodbye, on silence, on shutdown and on SIGHUP")


meshlab.main(test)
