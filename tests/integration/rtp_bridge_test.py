#!/usr/bin/env python3
"""The RTP-MIDI bridge against a third-party AppleMIDI implementation (npm rtpmidi, playing a
Mac): a hub and nodes A and B on JACK; the Mac joins through A, once invited by A
(--rtp-midi-connect) and once inviting A's session itself. What the Mac plays comes out of A's
and B's outputs exactly and in order; what B's input plays reaches the Mac, and none of the
Mac's own. A note the Mac holds is released at A and B when it is killed (silence) and when it
says goodbye (BY)."""

import re

import meshlab
from meshlab import Lab, Proc, fail, start_hub, start_jack_node
from probe import Probe, fnv1a, sysex
import rtplab
from rtplab import RtpPeer

# What the Mac plays: notes, controllers, clock, and a SysEx of 2,048 bytes (one RTP packet).
FROM_MAC = [bytes.fromhex(h) for h in [
    "903c64", "b00740", "b0010a", "f8", "903e50", "f8", "803c00", "e00040", "803e00",
]] + [sysex(2048), bytes.fromhex("c105")]
# What B's input plays for the Mac: the library cannot reassemble a SysEx split across packets;
# 1,000 bytes fit one.
FROM_B = [bytes.fromhex(h) for h in ["914864", "b1407f", "814800", "b14000"]] + [sysex(1000)]

HELD = bytes.fromhex("924a70")      # a note left sounding, channel 3
HELD_SUSTAIN = bytes.fromhex("b2407f")
RELEASE = [bytes.fromhex("824a00"), bytes.fromhex("b24000")]  # as the note tracker ends them


def expect_exactly(probe: Probe, messages: list[bytes], what: str) -> None:
    got = probe.received(len(messages))
    # As numbers: midiprobe prints 16 digits, probe.fnv1a drops leading zeros.
    if got["count"] != str(len(messages)) or int(got["checksum"], 16) != int(fnv1a(messages), 16):
        played = [m.hex() if len(m) <= 16 else f"{m[:6].hex()}...({len(m)} bytes)"
                  for _, m in probe.recv_log]
        fail(f"{probe.name}: {what}: got {got}; expected {len(messages)} message(s), "
             f"checksum {fnv1a(messages)}; played since the start: {played} "
             f"(probe: {probe.ready.string.strip()})")


MESH = rtplab.unique_mesh("bridge")


def mac_joins(mac: RtpPeer, a: Proc, b: Proc, hub: Proc) -> None:
    """The Mac is in the session and in the mesh: A says so, B and the hub know it as a peer."""
    connected = mac.wait_connected()
    if connected["name"] != rtplab.session_name(MESH, "a"):
        fail(f"{mac.name} connected to a session named {connected['name']!r}, "
             f"not {rtplab.session_name(MESH, 'a')!r}")
    # Each participant has a name of its own: its lines may be anywhere in the logs.
    a.wait_for_line(rtplab.joined_line(mac.name), 20, from_start=True)
    for node in (b, hub):
        node.wait_for_line(rtplab.peer_joined_line(mac.name), 10, from_start=True)


def play_both_ways(mac: RtpPeer, pa: Probe, pb: Probe) -> None:
    for message in FROM_MAC:
        mac.send(message)
    expect_exactly(pb, FROM_MAC, f"what {mac.name} played, at B's output")
    expect_exactly(pa, FROM_MAC, f"what {mac.name} played, at A's output")

    before = len(mac.midi)
    for message in FROM_B:
        pb.send(message)
    # B's SysEx is the last and the largest: when it arrived, an echo of the Mac's own messages
    # (sent earlier) would have arrived too.
    got = mac.received(before + len(FROM_B))[before:]
    if got != FROM_B:
        fail(f"{mac.name} received {[m.hex()[:20] for m in got]}; expected exactly B's "
             f"{[m.hex()[:20] for m in FROM_B]}")
    if before:
        fail(f"{mac.name} received {before} message(s) before B played: its own, echoed? "
             f"{[m.hex()[:20] for _, m in mac.midi[:before]]}")
    # B's messages reach A too, and nothing of the Mac's came back to it: A's output played
    # exactly the Mac's and then B's.
    expect_exactly(pa, FROM_MAC + FROM_B, "A's output after B played")
    for probe in (pa, pb):
        probe.reset()


def hold(mac: RtpPeer, pa: Probe, pb: Probe) -> None:
    mac.send(HELD)
    mac.send(HELD_SUSTAIN)
    for probe in (pa, pb):
        expect_exactly(probe, [HELD, HELD_SUSTAIN], f"the note {mac.name} holds")


def expect_released(pa: Probe, pb: Probe, what: str) -> None:
    for probe in (pa, pb):
        expect_exactly(probe, [HELD, HELD_SUSTAIN] + RELEASE, what)
        probe.reset()


def test() -> None:
    with Lab() as lab:
        lab.start_jack()
        hub, port = start_hub(lab, extra=["--no-midi", "--no-rtp-midi", "--mesh", MESH])
        mac = RtpPeer(lab, "mac")  # listening before A invites it
        a_rtp = rtplab.free_udp_pair()
        a = start_jack_node(lab, hub, "a", port, ["--mesh", MESH, "--rtp-port", str(a_rtp),
                                                  "--rtp-midi-connect", f"127.0.0.1:{mac.port}"])
        b = start_jack_node(lab, hub, "b", port, ["--mesh", MESH, "--no-rtp-midi"])
        if rtplab.session_ports(a) != (a_rtp, a_rtp + 1):
            fail(f"node A's session is on {rtplab.session_ports(a)}, not --rtp-port {a_rtp}")
        a.wait_for_line(rf'rtp-midi: session "{re.escape(rtplab.session_name(MESH, "a"))}"',
                        from_start=True)
        # Verbose: a failure shows what was played.
        # One probe for B's input and output: fewer JACK clients, fewer xruns on a busy machine.
        pa = Probe(lab, "pa", recv_from="a-out", verbose=True)
        pb = Probe(lab, "pb", send_to="b-in", recv_from="b-out", verbose=True)

        # 1. A invites the Mac.
        mac_joins(mac, a, b, hub)
        play_both_ways(mac, pa, pb)
        print(f"invited by A: {len(FROM_MAC)} messages from the Mac reached A and B exactly, "
              f"{len(FROM_B)} from B reached the Mac exactly")

        # The Mac dies holding a note: no goodbye, so A notices the silence.
        hold(mac, pa, pb)
        mac.kill()
        a.wait_for_line(rtplab.silent_line("mac") + r".*releasing its notes", 15,
                        from_start=True)
        b.wait_for_line(r'peer "mac" \([0-9a-f]{16}\) (left|went silent)', 15, from_start=True)
        expect_released(pa, pb, "after the Mac was killed holding a note")
        print("killed holding a note: released at A and B")

        # 2. The iPad invites A's session.
        ipad = RtpPeer(lab, "ipad", invite=f"127.0.0.1:{a_rtp}")
        mac_joins(ipad, a, b, hub)
        play_both_ways(ipad, pa, pb)
        print(f"inviting A: {len(FROM_MAC)} messages from the iPad reached A and B exactly, "
              f"{len(FROM_B)} from B reached the iPad exactly")

        # It leaves cleanly holding a note: BY releases it at once.
        hold(ipad, pa, pb)
        ipad.bye()
        a.wait_for_line(rtplab.left_line("ipad") + r" \(said goodbye\)", 10, from_start=True)
        b.wait_for_line(r'peer "ipad" \([0-9a-f]{16}\) left', 10, from_start=True)
        expect_released(pa, pb, "after the iPad said goodbye holding a note")
        print("said goodbye holding a note: released at A and B")
        for node in (hub, a, b):
            if not node.alive():
                fail(f"{node.name} exited: {node.tail()}")


rtplab.main(test)
