#!/usr/bin/env python3
"""Failover on a real (virtual) network: 4 hosts in network namespaces on a bridge, each with its
own avahi-daemon and JACK server, each running `midimesh --name hN --midi-api jack` and nothing
else (mDNS + election), with a midiprobe on its ports.

Checks, each scenario in a lab of its own (all run; the failures are reported together):
  kill:  one mesh forms (one hub, the others joined through it), MIDI reaches every host; a
         chord held by a player when the hub is SIGKILLed sounds on at every surviving receiver
         (no note-off) until the player releases it, and never again afterwards; the survivors
         elect a new hub and MIDI flows again between them.
  term:  the hub exits cleanly (SIGTERM): hand-over, MIDI flows again.
  cut:   the hub's cable is cut at the switch: the others elect a new hub, MIDI flows again;
         after `heal`, within HEAL_S seconds exactly one node claims to be hub and all follow it.
Prints the time from the hub's death to the first MIDI message delivered again (measured with
the probes: a message every 10 ms from a surviving host, timed at another survivor).
Needs root (namespaces); is_parallel false.
"""

from __future__ import annotations

import math
import re
import time

import meshlab
from meshlab import Failure, Host, Lab, Proc, fail, wait_until
from probe import Probe, fnv1a

NOTE_ON = bytes.fromhex("903c64")  # middle C, channel 1
NOTE_OFF = bytes.fromhex("803c00")
CHORD_ON = [bytes([0x90, key, 100]) for key in (48, 52, 55)]  # C major, below middle C
CHORD_OFF = [bytes([0x80, key, 0]) for key in (48, 52, 55)]
BURST_CHANNEL = 1  # poly pressure A1 ii ii: the counter in the data bytes
RATE = 100  # burst messages per second: one every 10 ms
HEAL_S = 10.0  # after heal, one hub within this
FAILOVER_S = 8.0  # a new hub and MIDI flowing again within this after the hub's death

class Mesh:
    """The hosts of one lab, each with its midimesh node and a probe on the node's ports."""

    def __init__(self, lab: Lab, n: int):
        self.lab = lab
        self.hosts: dict[str, Host] = {f"h{i + 1}": h for i, h in enumerate(lab.hosts(n, "fo"))}
        self.nodes: dict[str, Proc] = {}
        self.ids: dict[str, str] = {}
        self.probes: dict[str, Probe] = {}
        self.generation = 0
        for name, host in self.hosts.items():
            self.nodes[name] = host.spawn(name, [meshlab.midimesh(), "--name", name,
                                                 "--midi-api", "jack"])
        for name, node in self.nodes.items():
            meshlab.wait_jack_client(node)
            self.ids[name] = meshlab.node_id(node)
        for name, host in self.hosts.items():
            self.probes[name] = Probe(lab, f"p{name}", send_to="midimesh-in",
                                      recv_from="midimesh-out", host=host, verbose=True)

    def replace_probe(self, name: str) -> None:
        self.probes[name].stop()
        self.generation += 1
        self.probes[name] = Probe(self.lab, f"p{name}-{self.generation}", send_to="midimesh-in",
                                  recv_from="midimesh-out", host=self.hosts[name], verbose=True)

    def name_of(self, node_id: str) -> str:
        return next(n for n, i in self.ids.items() if i == node_id)

    def role(self, name: str) -> tuple[str, str | None]:
        return meshlab.role(self.nodes[name])

    def one_hub(self, names: list[str]) -> str | None:
        return meshlab.one_hub({n: self.nodes[n] for n in names})

    def wait_one_hub(self, names: list[str], timeout: float, what: str) -> str:
        def describe() -> str:
            return ", ".join(f"{n}: {self.role(n)[0]}"
                             + (f" {self.name_of(self.role(n)[1])}" if self.role(n)[1] else "")
                             for n in names)
        deadline = time.monotonic() + timeout
        while (hub := self.one_hub(names)) is None:
            if time.monotonic() >= deadline:
                fail(f"{what}: no single hub followed by all of {names} within {timeout:g} s "
                     f"({describe()})")
            time.sleep(meshlab.POLL_INTERVAL)
        return hub

    def hub_claims(self, names: list[str]) -> list[str]:
        return [n for n in names if self.role(n)[0] == "hub"]

    def check_delivered(self, sender: str, receivers: list[str], message: bytes,
                        what: str) -> None:
        """`message` played into sender's node arrives, once, at every receiver's output."""
        for r in receivers:
            self.probes[r].recv_log.clear()
        self.probes[sender].send(message)
        deadline = time.monotonic() + 5
        for r in receivers:
            probe = self.probes[r]
            while not any(m == message for _, m in probe.recv_log):
                if probe.next_recv(deadline) is None:
                    fail(f"{what}: {r} did not receive {message.hex()} from {sender} within 5 s "
                         f"(got {[m.hex() for _, m in probe.recv_log]})")

    def time_failover(self, sender: str, receivers: list[str], hub: str, act,
                      what: str) -> dict[str, float]:
        """Bursts from `sender`, waits until every receiver gets it, calls act() (the hub's
        death) and returns, per receiver, the ms from act() to the first message sent after it
        that arrived. Checks that MIDI flows again at every receiver."""
        sender_probe = self.probes[sender]
        for r in receivers:
            self.probes[r].recv_log.clear()
        count = int((FAILOVER_S + 4) * RATE)
        started = sender_probe.start_burst(count, BURST_CHANNEL, RATE)
        status = 0xA0 | BURST_CHANNEL

        def index(m: bytes) -> int | None:
            return (m[1] << 7 | m[2]) if len(m) == 3 and m[0] == status else None

        deadline = time.monotonic() + 5
        for r in receivers:  # flowing through the old hub
            probe = self.probes[r]
            while not any(index(m) is not None for _, m in probe.recv_log):
                if probe.next_recv(deadline) is None:
                    fail(f"{what}: {r} got nothing of {sender}'s burst through hub {hub}")
        t0 = time.monotonic()
        act()
        # Message i leaves no earlier than started + i / RATE: from k0 on, sent after act().
        k0 = math.ceil((t0 - started) * RATE) + 1
        deadline = t0 + FAILOVER_S
        result = {}
        for r in receivers:
            probe = self.probes[r]
            while True:
                first = next((t for t, m in probe.recv_log
                              if (i := index(m)) is not None and i >= k0), None)
                if first is not None:
                    result[r] = (first - t0) * 1000
                    break
                if probe.next_recv(deadline) is None:
                    fail(f"{what}: no MIDI from {sender} reached {r} within {FAILOVER_S:g} s "
                         f"after the hub's death")
        self.replace_probe(sender)  # rather than wait for the end of the burst
        print(f"{what}: hub death -> first MIDI from {sender} delivered again: "
              + ", ".join(f"at {r} {ms:.0f} ms" for r, ms in result.items()), flush=True)
        return result


def form(mesh: Mesh, what: str) -> str:
    names = list(mesh.nodes)
    hub = mesh.wait_one_hub(names, 15, f"{what}: forming the mesh")
    for name in names:  # exactly one ever claimed, and every other joined through it
        claims = [l for l in mesh.nodes[name].lines() if "this node is now the hub" in l]
        if len(claims) != (1 if name == hub else 0):
            fail(f"{what}: {name} claimed hub {len(claims)} times while the mesh formed:\n"
                 f"{mesh.nodes[name].tail()}")
    print(f"{what}: one mesh, hub {hub}", flush=True)
    return hub


def scenario_kill() -> None:
    with Lab() as lab:
        mesh = Mesh(lab, 4)
        hub = form(mesh, "kill")
        others = [n for n in mesh.nodes if n != hub]
        sender, receivers = others[0], others[1:]
        # A chord held at the moment of the hub's death: every receiver, the hub host too, plays it.
        for note in CHORD_ON:
            mesh.check_delivered(sender, receivers + [hub], note, "kill: the chord")
        hub_id = mesh.ids[hub]
        # The dead hub's probe is not read again: under the host's synchronous JACK server the
        # kill may take it down too (Lab.hosts).
        mesh.time_failover(sender, receivers, hub, mesh.nodes[hub].kill, "kill (SIGKILL)")
        for r in receivers:
            mesh.nodes[r].wait_for_line(rf"hub .*{hub_id}.* silent for \d+ ms: electing another",
                                        from_start=True)
        survivors = others
        new_hub = mesh.wait_one_hub(survivors, 5, "kill: after the hub's death")

        def chord_log(r: str) -> list[bytes]:
            return [m for _, m in mesh.probes[r].recv_log if m in CHORD_ON + CHORD_OFF]

        # The player still holds the chord: nothing released it, whatever the hub did.
        for r in receivers:
            mesh.probes[r].next_recv(time.monotonic() + 1.0)  # a moment for late arrivals
            if chord_log(r):
                fail(f"kill: at {r} the chord was touched while the player held it: "
                     f"{[m.hex() for m in chord_log(r)]}\n{mesh.nodes[r].tail()}")
        # The player lets go: exactly its three note-offs, and the chord never sounds again.
        for note in CHORD_OFF:
            mesh.probes[sender].send(note)
        for r in receivers:
            deadline = time.monotonic() + 5
            while sorted(chord_log(r)) != sorted(CHORD_OFF):
                if mesh.probes[r].next_recv(deadline) is None:
                    fail(f"kill: at {r} the chord's release came as "
                         f"{[m.hex() for m in chord_log(r)]}, not its three note-offs")
            mesh.probes[r].next_recv(time.monotonic() + 1.0)
            if sorted(chord_log(r)) != sorted(CHORD_OFF):
                fail(f"kill: at {r} the chord sounded again after its release: "
                     f"{[m.hex() for m in chord_log(r)]}")
        print(f"kill: new hub {new_hub}; the chord held through the hub's death sounded at "
              f"{receivers} until the player released it, and not after", flush=True)
        # MIDI flows between the survivors in every direction, through the new hub.
        for s in survivors:
            mesh.check_delivered(s, [r for r in survivors if r != s], NOTE_OFF,
                                 f"kill: after failover, from {s}")


def scenario_term() -> None:
    with Lab() as lab:
        mesh = Mesh(lab, 4)
        hub = form(mesh, "term")
        others = [n for n in mesh.nodes if n != hub]
        sender, receivers = others[0], others[1:]
        mesh.check_delivered(sender, receivers + [hub], NOTE_OFF, "term: before")

        def term() -> None:
            if mesh.nodes[hub].terminate() != 0:
                fail(f"term: the hub exited with {mesh.nodes[hub].returncode}")
        mesh.time_failover(sender, receivers, hub, term, "term (SIGTERM)")
        new_hub = mesh.wait_one_hub(others, 5, "term: after the hub's exit")
        for r in others:
            mesh.nodes[r].wait_for_line(rf'peer "{hub}" .* left', from_start=True)
            if any(re.search(r"silent for \d+ ms: electing another", l)
                   for l in mesh.nodes[r].lines()):
                fail(f"term: {r} waited for the clean exit's silence instead of handing over")
        print(f"term: new hub {new_hub}", flush=True)
        for s in others:
            mesh.check_delivered(s, [r for r in others if r != s], NOTE_OFF,
                                 f"term: after hand-over, from {s}")


def scenario_cut() -> None:
    with Lab() as lab:
        mesh = Mesh(lab, 4)
        hub = form(mesh, "cut")
        names = list(mesh.nodes)
        others = [n for n in names if n != hub]
        sender, receivers = others[0], others[1:]
        mesh.check_delivered(sender, receivers + [hub], NOTE_OFF, "cut: before")
        mesh.time_failover(sender, receivers, hub, mesh.hosts[hub].cut, "cut (cable)")
        new_hub = mesh.wait_one_hub(others, 5, "cut: after the cut")
        print(f"cut: new hub {new_hub} among {others}", flush=True)
        for s in others:
            mesh.check_delivered(s, [r for r in others if r != s], NOTE_OFF,
                                 f"cut: after failover, from {s}")
        # Let the cut-off hub notice it is alone (peer timeout 1.5 s), as a real outage would.
        mesh.nodes[hub].wait_for_line(r"went silent", timeout=10)
        healed = time.monotonic()
        mesh.hosts[hub].heal()
        deadline = healed + HEAL_S
        while (one := mesh.one_hub(names)) is None and time.monotonic() < deadline:
            time.sleep(meshlab.POLL_INTERVAL)
        if one is None:
            claims = mesh.hub_claims(names)
            fail(f"cut: {HEAL_S:g} s after heal, {len(claims)} node(s) claim to be hub "
                 f"({', '.join(claims)}), expected exactly one followed by all: "
                 + ", ".join(f"{n}: {mesh.role(n)}" for n in names)
                 + f"\n--- log of the healed host {hub}:\n{mesh.nodes[hub].tail(15)}")
        print(f"cut: healed: one hub ({one}) after {(time.monotonic() - healed) * 1000:.0f} ms",
              flush=True)
        mesh.check_delivered(hub, others, NOTE_OFF, "cut: after heal, from the healed host")
        mesh.check_delivered(sender, [n for n in names if n != sender], NOTE_OFF,
                             "cut: after heal, to the healed host")


def test() -> None:
    failures = []
    for scenario in (scenario_kill, scenario_term, scenario_cut):
        try:
            scenario()
        except Failure as e:
            print(f"FAILED: {scenario.__name__}: {e}", flush=True)
            failures.append(f"{scenario.__name__}: {e}")
    if failures:
        fail("; ".join(f.splitlines()[0] for f in failures))


meshlab.main(test)
