#!/usr/bin/env python3
"""Bad input on a node's RTP-MIDI ports: garbage, truncated and malformed AppleMIDI packets,
RTP from an unknown SSRC, an invitation of another AppleMIDI version, and a flood of invitations
from 200 SSRCs. The node keeps running, counts each kind (its stats, and `rtp_bad` in the status
meshtop shows), logs at most a few throttled lines, answers the other version with NO, and a
participant already in the session keeps playing into the mesh throughout."""

import random
import socket
import struct

import msgpack
import zmq

import meshlab
import rtplab
from meshlab import Lab, fail, start_hub, start_jack_node, stats, wait_until
from probe import Probe, fnv1a
from rtplab import RtpPeer

NOTES = [bytes([0x90, n, 100]) for n in range(60, 70)] + [bytes([0x80, n, 0]) for n in range(60, 70)]


def invitation(command: bytes, version: int, token: int, ssrc: int, name: bytes) -> bytes:
    return b"\xff\xff" + command + struct.pack(">III", version, token, ssrc) + name + b"\x00"


def rtp_midi(ssrc: int, seq: int) -> bytes:
    # V=2, PT 0x61, one note-on in the command section
    return struct.pack(">BBHII", 0x80, 0x61, seq, 1000, ssrc) + b"\x03\x90\x3c\x64"


def monitor_status(port: int, node_name: str, timeout: float = 10.0) -> dict:
    """The next status report of `node_name` on the hub's monitor port (base port + 2)."""
    context = zmq.Context.instance()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(f"tcp://127.0.0.1:{port + 2}")
    found: dict = {}

    def got() -> bool:
        if not sub.poll(100):
            return False
        frames = sub.recv_multipart()
        envelope = msgpack.unpackb(frames[-1], raw=False)
        if envelope[1] != 5:
            return False
        report = msgpack.unpackb(envelope[5], raw=False)
        if report.get("name") == node_name:
            found.update(report)
            return True
        return False

    try:
        wait_until(got, timeout, f"a status report of {node_name} on the monitor port")
    finally:
        sub.close()
    return found


def test() -> None:
    with Lab() as lab:
        lab.start_jack()
        hub, port = start_hub(lab, extra=["--no-midi", "--no-rtp-midi"])
        a_rtp = rtplab.free_udp_pair()
        a = start_jack_node(lab, hub, "a", port, ["--rtp-port", str(a_rtp)])
        b = start_jack_node(lab, hub, "b", port, ["--no-rtp-midi"])
        pb = Probe(lab, "pb", recv_from="b-out")

        mac = RtpPeer(lab, "mac", invite=f"127.0.0.1:{a_rtp}")
        mac.wait("can_send", 20)
        a.wait_for_line(rtplab.joined_line("mac"), 20)
        b.wait_for_line(rtplab.peer_joined_line("mac"), 10)

        rng = random.Random(6295)
        attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        attacker.bind(("127.0.0.1", 0))
        lab.at_close(attacker.close)
        control, data = ("127.0.0.1", a_rtp), ("127.0.0.1", a_rtp + 1)

        def attack(round_: int) -> None:
            for _ in range(50):  # random garbage, of every length up to 200 bytes
                attacker.sendto(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
                                rng.choice((control, data)))
            attacker.sendto(b"\xff\xffIN\x00\x00", control)  # truncated invitation
            attacker.sendto(b"\xff\xffCK" + b"\x00" * 8, data)  # truncated clock sync
            attacker.sendto(rtp_midi(0xDEAD0000 + round_, round_), data)  # unknown SSRC
            attacker.sendto(invitation(b"IN", 3, 7, 0xBEEF0000 + round_, b"v3"), control)
            for i in range(40):  # invitations from many SSRCs: at most 32 are taken
                attacker.sendto(invitation(b"IN", 2, i, 0x10000000 + round_ * 1000 + i,
                                           b"flood"), control)

        # The participant plays while the attack goes on; everything it plays arrives.
        for round_, message in enumerate(NOTES):
            attack(round_)
            mac.send(message)
        got = pb.received(len(NOTES))
        if got["count"] != str(len(NOTES)) or got["checksum"] != fnv1a(NOTES):
            fail(f"B played {got} of what the Mac played during the attack; expected "
                 f"{len(NOTES)} messages, checksum {fnv1a(NOTES)}")

        # The other version got a NO.
        attacker.settimeout(5)
        refused = False
        for _ in range(2000):
            try:
                answer, _ = attacker.recvfrom(2048)
            except socket.timeout:
                break
            if answer[:4] == b"\xff\xffNO":
                refused = True
                break
        if not refused:
            fail("no NO answer to invitations of AppleMIDI version 3 or of the flood")

        if not a.alive():
            fail("node A died under bad RTP-MIDI input")
        counters = stats(a, "rtp-midi")
        for key in ("malformed", "unknown_ssrc", "version_mismatch", "refused"):
            if counters.get(key, 0) == 0:
                fail(f"node A did not count {key}: {counters}")
        if counters.get("participants") != 1:
            fail(f"the flood's half-open invitations became participants: {counters}")
        warnings = [line for line in a.lines() if "rtp-midi: ignored" in line
                    or "more bad packet" in line]
        if not warnings:
            fail("node A did not log the bad input")
        if len(warnings) > 4:
            fail(f"node A logged {len(warnings)} lines about bad input; the log must be "
                 f"throttled:\n" + "\n".join(warnings[:10]))
        report = monitor_status(port, "a")
        if report.get("rtp_bad", 0) == 0:
            fail(f"node A's status report (what meshtop shows) has no rtp_bad: {report}")
        print(f"bad input counted: {counters}; {len(warnings)} log line(s); "
              f"rtp_bad in meshtop: {report['rtp_bad']}")


rtplab.main(test)
