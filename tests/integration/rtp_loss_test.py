#!/usr/bin/env python3
"""RTP-MIDI over a lossy network: two separate meshes, "left" (node L) and "right" (node R),
joined only by L's AppleMIDI invitation to R's session through a relay that drops 5 % of the
RTP packets each way (session packets pass). A few hundred short notes and controllers played
into L come out of R with nothing left sounding and every controller at its last value, thanks
to the recovery journal; the same from R to L. Then the relay drops one chosen packet and never
delivers it: the note sent after it arrives at once, so no one waits for a retransmission."""

import time

import meshlab
from meshlab import Lab, Proc, fail, midimesh
from probe import Probe
import rtplab
from udp_relay import UdpRelay

DROP_RATE = 0.05
SEED = 6295
NOTES = 300          # per direction
PACE = 0.002         # seconds between two messages played
CONTROLLERS = (7, 1)  # volume, modulation: set every 10th note


LEFT, RIGHT = rtplab.unique_mesh("left"), rtplab.unique_mesh("right")


def start_mesh(lab: Lab, mesh: str, name: str, extra: list[str]) -> tuple[Proc, int]:
    rtp_port = rtplab.free_udp_pair()
    node = lab.spawn(name, [midimesh(), "--hub", "--mesh", mesh, "--bind", "127.0.0.1",
                            "--port", str(lab.free_port()), "--name", name, "--midi-api", "jack",
                            "--port-name", name, "--rtp-port", str(rtp_port), *extra])
    node.wait_for_line(r"hub: forwarding")
    meshlab.wait_jack_client(node)
    if rtplab.session_ports(node) != (rtp_port, rtp_port + 1):
        fail(f"{name}'s session is on {rtplab.session_ports(node)}, not --rtp-port {rtp_port}")
    return node, rtp_port


def song(channel_base: int) -> tuple[list[bytes], dict[tuple[int, int], int]]:
    """Short legato notes (each note-on, then the previous note's note-off) on 4 channels, and
    controllers; returns the messages and the last value of each controller."""
    messages: list[bytes] = []
    last_cc: dict[tuple[int, int], int] = {}
    previous = None
    for i in range(NOTES):
        ch = channel_base + i % 4
        note = 36 + (i * 7) % 48
        messages.append(bytes([0x90 | ch, note, 1 + i % 126]))
        if previous:
            messages.append(previous)
        previous = bytes([0x80 | ch, note, 0x40])
        if i % 10 == 0:
            for cc in CONTROLLERS:
                value = (i * 3 + cc) % 128
                messages.append(bytes([0xB0 | ch, cc, value]))
                last_cc[(ch, cc)] = value
    messages.append(previous)
    return messages, last_cc


class Playback:
    """What an output played, as a synthesizer would keep it: notes sounding, controllers."""

    def __init__(self) -> None:
        self.sounding: dict[tuple[int, int], bool] = {}
        self.cc: dict[tuple[int, int], int] = {}
        self.note_ons = self.note_offs = self.others = 0

    def play(self, m: bytes) -> None:
        kind, ch = m[0] & 0xF0, m[0] & 0x0F
        if kind == 0x90 and len(m) == 3 and m[2] > 0:
            self.sounding[(ch, m[1])] = True
            self.note_ons += 1
        elif kind in (0x80, 0x90) and len(m) == 3:
            self.sounding[(ch, m[1])] = False
            self.note_offs += 1
        elif kind == 0xB0 and len(m) == 3:
            self.cc[(ch, m[1])] = m[2]
        else:
            self.others += 1

    def stuck(self) -> list[tuple[int, int]]:
        return sorted(k for k, on in self.sounding.items() if on)


def play_song(sender: Probe, messages: list[bytes]) -> None:
    start = time.monotonic()
    for i, message in enumerate(messages):
        sender.send(message)
        # Pacing, not synchronisation: sets how fast the notes are played.
        delay = start + (i + 1) * PACE - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def one_way(what: str, sender: Probe, receiver: Probe, channel_base: int, relay: UdpRelay,
            direction: str) -> None:
    messages, last_cc = song(channel_base)
    before = relay.snapshot()[direction]
    echoes_before = len(sender.recv_log)
    play_song(sender, messages)
    playback = Playback()
    seen = 0
    settled = False
    # No marker can be relied on (it may be lost): wait until the output is in the final state.
    deadline = time.monotonic() + 15
    while not settled and time.monotonic() < deadline:
        receiver.next_recv(time.monotonic() + 0.2)
        for _, m in receiver.recv_log[seen:]:
            playback.play(m)
        seen = len(receiver.recv_log)
        settled = not playback.stuck() and all(playback.cc.get(k) == v
                                               for k, v in last_cc.items())
    after = relay.snapshot()[direction]
    dropped = after["dropped"] - before["dropped"]
    total = dropped + after["forwarded"] - before["forwarded"]
    sent_ons = sum(1 for m in messages if m[0] & 0xF0 == 0x90)
    sent_offs = sum(1 for m in messages if m[0] & 0xF0 == 0x80)
    print(f"{what}: relay dropped {dropped} of {total} RTP packets; the output played "
          f"{playback.note_ons} of {sent_ons} note-ons, {playback.note_offs} note-offs for "
          f"{sent_offs} sent, {playback.others} other message(s)")
    if not settled:
        wrong_cc = {k: (playback.cc.get(k), v) for k, v in last_cc.items()
                    if playback.cc.get(k) != v}
        fail(f"{what}: after 15 s, {len(playback.stuck())} note(s) still sounding "
             f"{playback.stuck()[:10]}, controllers (played, sent last) {wrong_cc}; "
             f"relay dropped {dropped} of {total} RTP packets (a lost last packet needs a later "
             "one, or a journal-only packet, to be recovered)")
    if dropped == 0:
        fail(f"{what}: the relay dropped no packet: the test proved nothing")
    sender.next_recv(time.monotonic() + 0.05)  # read what already arrived
    if len(sender.recv_log) != echoes_before:
        fail(f"{what}: the sender's own output played {len(sender.recv_log) - echoes_before} "
             "message(s): its own notes came back")
    if playback.note_ons > sent_ons:
        fail(f"{what}: {playback.note_ons} note-ons played, {sent_ons} sent: echoes or "
             "duplicates")


def not_delayed(sender: Probe, receiver: Probe, relay: UdpRelay) -> None:
    """One chosen packet lost for good: what follows it is played anyway. The relay never
    delivers the lost packet, so the next note arriving at all proves that nothing waits for
    a retransmission (its delay is printed, not asserted: speed is meshbench's business)."""
    relay.drop_rate = 0.0
    lost, after = bytes.fromhex("9f7b55"), bytes.fromhex("9f7c55")
    dropped = relay.drop_next("to_target", containing=lost)
    seen = len(receiver.recv_log)
    sender.send(lost)
    if not dropped.wait(5):
        fail(f"no RTP packet with {lost.hex()} went through the relay within 5 s")
    sent_at = time.monotonic()
    sender.send(after)
    arrival = None
    deadline = sent_at + 5
    while arrival is None:
        got = receiver.next_recv(deadline)
        if got is None:
            fail(f"the note sent after a lost packet never arrived: "
                 f"{[m.hex() for _, m in receiver.recv_log[seen:]]}")
        if got[1] == after:
            arrival = got[0] - sent_at
    played = [m for _, m in receiver.recv_log[seen:]]
    fate = "recovered from the journal" if lost in played else "not played"
    print(f"one packet lost for good: the next note arrived {arrival * 1000:.0f} ms after it was "
          f"sent; the lost note-on was {fate}")
    if played.count(lost) > 1:
        fail(f"the lost note-on was played {played.count(lost)} times")
    for m in (bytes.fromhex("8f7b00"), bytes.fromhex("8f7c00")):
        sender.send(m)
    playback = Playback()
    deadline = time.monotonic() + 5
    while True:
        for _, m in receiver.recv_log[seen:]:
            playback.play(m)
        seen = len(receiver.recv_log)
        if not playback.stuck() and playback.note_offs >= 2:
            break
        if receiver.next_recv(deadline) is None:
            fail(f"after the lost packet, notes still sounding: {playback.stuck()}")


def test() -> None:
    with Lab() as lab:
        lab.start_jack()
        r, r_rtp = start_mesh(lab, RIGHT, "r", [])
        with UdpRelay(r_rtp, drop_rate=DROP_RATE, seed=SEED, lifetime=240) as relay:
            l, _ = start_mesh(lab, LEFT, "l",
                              ["--rtp-midi-connect", f"127.0.0.1:{relay.port}"])
            r.wait_for_line(rtplab.joined_line(rtplab.session_name(LEFT, "l")), 20)
            l.wait_for_line(rtplab.joined_line(rtplab.session_name(RIGHT, "r")), 20)
            pl = Probe(lab, "pl", send_to="l-in", recv_from="l-out", verbose=True)
            pr = Probe(lab, "pr", send_to="r-in", recv_from="r-out", verbose=True)

            one_way("L -> R", pl, pr, 0, relay, "to_target")
            one_way("R -> L", pr, pl, 4, relay, "to_party")
            not_delayed(pl, pr, relay)
            print(f"relay counts: {relay.snapshot()}")
            if not relay.alive():
                fail("the relay stopped early (lifetime too short?)")
        for node in (l, r):
            if not node.alive():
                fail(f"{node.name} exited: {node.tail()}")


rtplab.main(test)
