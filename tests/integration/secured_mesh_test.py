#!/usr/bin/env python3
"""A secured mesh (issue 10): three members with the passphrase find each other by mDNS, elect a
hub and play MIDI; beside them, a node with a wrong passphrase and an open node of the same mesh
name (both forced hubs, to sway the election), a raw client without keys and one with the hub's
public key but not the members' key. Members play MIDI to each other exactly; the others get
nothing in and nothing out, the honest hub never changes, every refusal is said and counted. A
client written from PROTOCOL.md alone (keys derived here through libsodium, not midimesh's code)
joins with the passphrase; meshtop sees the mesh with it and nothing without it."""

import json
import os
import subprocess

import zmq

import meshlab
import mesh_keys
from meshlab import Lab, Proc, fail, midimesh, one_hub, stats, wait_until
from socket_midi import Reader, writer
from wireclient import MIDI, WireClient

SECRET = "correct horse battery staple"
NOTES = [bytes([0x90, 60 + i % 24, 1 + i % 127]) for i in range(200)]


def meshtop_once(mesh: str, env: dict[str, str]) -> tuple[dict[str, dict], str | None, str]:
    """The nodes (by name) and the hub that `meshtop --once --json` shows, and what it logged."""
    run = subprocess.run([meshlab.binary("MESHTOP"), "--once", "--json", "--mesh", mesh,
                          "--wait", "8"], env={**os.environ, **env}, capture_output=True,
                         text=True, timeout=30)
    lines = run.stdout.strip().splitlines()
    obj = json.loads(lines[-1]) if lines else {}
    return {n["name"]: n for n in obj.get("nodes", [])}, obj.get("hub"), run.stderr


def quiet(reader: Reader, what: str) -> None:
    if (m := reader.recv(0.3)) is not None:
        fail(f"{what} played {m.hex()}")


def test() -> None:
    os.environ.pop("MIDIMESH_SECRET", None)  # the open node must not inherit one
    with Lab() as lab:
        lab.start_avahi()
        mesh = f"sec{os.getpid()}"
        paths = {n: str(lab.dir / n) for n in ("a", "b", "c", "wrong", "open")}
        outputs = {n: Reader(f"{p}-out") for n, p in paths.items()}
        lab.at_close(lambda: [r.close() for r in outputs.values()])

        def start(name: str, secret: str | None, *extra: str) -> Proc:
            env = {"MIDIMESH_SECRET": secret} if secret else {}
            return lab.spawn(name, [midimesh(), "--name", name, "--mesh", mesh, "--midi-api",
                                    "socket", "--port-name", paths[name], "--no-rtp-midi",
                                    *extra], env)

        honest = {n: start(n, SECRET) for n in ("a", "b", "c")}
        hub = wait_until(lambda: one_hub(honest), 20, "one hub among a, b and c")
        hub_port = int(honest[hub].wait_for_line(r"hub: forwarding: nodes publish to \S+:(\d+)",
                                                 from_start=True).group(1))
        print(f"secured: a, b and c elected {hub} (port {hub_port})")

        # Outsiders of the same mesh name, both claiming the hub with a higher priority.
        # Two ports picked before either binds: apart, or both could get the same one.
        ports = [lab.free_port()]
        ports.append(next((p for p in (lab.free_port() for _ in range(100))
                           if abs(p - ports[0]) >= 3), 0) or fail("no second free port"))
        wrong = start("wrong", "a guess that is not it", "--hub", "--priority", "100",
                      "--port", str(ports[0]))
        opened = start("open", None, "--hub", "--priority", "100", "--port", str(ports[1]))
        wrong.wait_for_line(rf'mesh "{mesh}" is secured and your passphrase does not match', 15)
        opened.wait_for_line(rf'mesh "{mesh}" is secured: start midimesh with --secret-file', 15)
        for p in (wrong, opened):
            p.wait_for_line(r"this node is now the hub", 15, from_start=True)
        for name, p in honest.items():
            p.wait_for_line(r'ignoring node "wrong".*passphrase does not match', 15,
                            from_start=True)
            p.wait_for_line(r'ignoring node "open".*runs an open mesh', 15, from_start=True)

        # Joining the hub directly (no mDNS) with the wrong passphrase: the handshake says it.
        direct = lab.spawn("direct", [midimesh(), "--connect", f"127.0.0.1:{hub_port}", "--name",
                                      "direct", "--mesh", mesh, "--no-midi", "--no-rtp-midi"],
                           {"MIDIMESH_SECRET": "a guess that is not it"})
        direct.wait_for_line(rf'mesh "{mesh}" is secured and your passphrase does not match '
                             r"\(the hub at 127\.0\.0\.1 refused our handshake\)", 15)
        direct.terminate()
        if stats(direct)["failed_handshakes"] < 1:
            fail(f"the refused handshakes are not counted: {stats(direct)}")

        # Raw clients at the honest hub: no keys, and the hub's key without the members' key.
        no_keys = WireClient("127.0.0.1", hub_port, "no-keys")
        lab.at_close(no_keys.close)
        keys = mesh_keys.derive(SECRET, mesh)
        stranger_public, stranger_secret = zmq.curve_keypair()
        stranger = WireClient("127.0.0.1", hub_port, "stranger",
                              curve=(keys.server_public, stranger_public, stranger_secret))
        lab.at_close(stranger.close)
        member = WireClient("127.0.0.1", hub_port, "member",
                            curve=(keys.server_public, keys.client_public, keys.client_secret))
        lab.at_close(member.close)
        peers = member.join()
        if hub not in peers.values():
            fail(f"a client with keys derived from PROTOCOL.md heard {peers}, not hub {hub}")
        for client in (no_keys, stranger):
            if client.pub.poll(1000):
                fail(f"the hub subscribed to {client.name}: it was let in")
        wait_until(lambda: stats(honest[hub])["refused_peers"] >= 1, 10,
                   "the hub's ZAP handler to refuse the stranger's key")

        # Attempts to inject: forged hellos and MIDI (they go nowhere), and the outsiders' MIDI.
        for client in (no_keys, stranger):
            client.hello()
            client.send_midi(bytes.fromhex("903c7f"))
        for name in ("wrong", "open"):
            w = writer(f"{paths[name]}-in")
            lab.at_close(w.close)
            w.send(bytes.fromhex("9f7f7f"))
        wait_until(lambda: stats(wrong)["midi_sent"] >= 1 and stats(opened)["midi_sent"] >= 1,
                   10, "the outsiders to send their notes")

        # The members' MIDI: exact at the members, nothing at the outsiders.
        inject = writer(f"{paths['a']}-in")
        lab.at_close(inject.close)
        for note in NOTES:
            inject.send(note)
        for name in ("b", "c"):
            got = []
            while len(got) < len(NOTES) and (m := outputs[name].recv(10)) is not None:
                got.append(m)
            if got != NOTES:
                fail(f"{name} played {len(got)} of {len(NOTES)} notes, or not in order")
        got = []
        while len(got) < len(NOTES) and (m := member.receive(10_000)) is not None:
            if m[1] == MIDI:
                got.append(m[3])
        if got != NOTES:
            fail(f"the PROTOCOL.md client received {len(got)} of {len(NOTES)} notes")
        quiet(outputs["wrong"], "the node with the wrong passphrase")
        quiet(outputs["open"], "the open node")
        for client in (no_keys, stranger):
            if (m := client.receive(300)) is not None:
                fail(f"{client.name} received {m}")
        marker = bytes.fromhex("fa")
        from_b = writer(f"{paths['b']}-in")
        lab.at_close(from_b.close)
        from_b.send(marker)
        if (m := outputs["a"].recv(10)) != marker:
            fail(f"a played {m!r} before b's marker: an outsider's note got in")
        print(f"{len(NOTES)} notes reached b, c and the PROTOCOL.md client exactly; the "
              "outsiders got nothing in and nothing out")

        # The election: the honest hub never changed, whatever the forced outsiders claimed.
        if one_hub(honest) != hub:
            fail(f"the honest mesh changed hub: {[meshlab.role(p) for p in honest.values()]}")
        for name, p in honest.items():
            if (n := stats(p)["hub_changes"]) != 0:
                fail(f"{name} changed hub {n} time(s)")

        # meshtop: the mesh with the passphrase; nothing without it, and it says why.
        nodes, shown_hub, log = meshtop_once(mesh, {"MIDIMESH_SECRET": SECRET})
        if sorted(nodes) != ["a", "b", "c"] or shown_hub != hub:
            fail(f"meshtop with the passphrase showed {sorted(nodes)} (hub {shown_hub}):\n{log}")
        # The stranger's key (ZAP) and the keyless client's handshake, at least.
        if nodes[hub]["refused"] < 2:
            fail(f"meshtop shows {nodes[hub]['refused']} refused at the hub, not 2 or more")
        nodes, _, log = meshtop_once(mesh, {})
        if set(nodes) & set(honest) or f'mesh "{mesh}" is secured' not in log:
            fail(f"meshtop without the passphrase showed {sorted(nodes)}:\n{log}")
        print("meshtop shows a, b and c with the passphrase; without it, only the open node, "
              "and says the mesh is secured")


meshlab.main(test)
