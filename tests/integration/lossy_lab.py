"""lossy_lab: a hub and two players on hosts of their own (meshlab's network namespaces, no
daemons), the players' links losing packets at random in both directions, and a timed stream
from one player to the other measured by meshbench (`--only stream`) through the players' socket
MIDI ports. Used by tools/lossy-trials (the table in README) and lossy_link_test.py.

The kernel here has no netem; nftables' `numgen random` drops a share of the TCP packets that
cross each player's cable, both ways, at the switch (a bridge table in the switch's namespace:
nothing else is touched). At the switch, not in the player's own namespace: a packet its own
OUTPUT hook drops is no loss on the wire, TCP only sends it again at its next write.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import meshlab
from meshlab import Host, Lab, Proc, fail, skip

HUB_PORT = 8141


class LossyMesh:
    def __init__(self, lab: Lab, prefix: str = "ly", extra: list[str] | tuple[str, ...] = ()):
        if not shutil.which("nft"):
            skip("nft is not installed (apt-get install nftables)")
        self.lab = lab
        hub_host, *player_hosts = lab.hosts(3, prefix, daemons=False)
        self.player_hosts: list[Host] = player_hosts
        common = ["--no-rtp-midi", "--log-level", "info", *extra]
        self.hub = hub_host.spawn("hub", [meshlab.midimesh(), "--hub", "--no-midi", "--name", "hub",
                                          "--bind", hub_host.address, "--port", str(HUB_PORT),
                                          *common])
        self.hub.wait_for_line(r"hub: forwarding")
        self.ports: list[str] = []
        self.players: list[Proc] = []
        for i, host in enumerate(player_hosts, start=1):
            port = str(lab.dir / f"p{i}")
            self.ports.append(port)
            self.players.append(host.spawn(f"p{i}", [
                meshlab.midimesh(), "--connect", f"{hub_host.address}:{HUB_PORT}", "--name",
                f"p{i}", "--midi-api", "socket", "--port-name", port, *common]))
        for p in self.players:
            p.wait_for_line(r"joined the mesh through hub", timeout=15)
        # Each player has heard the other: MIDI between them goes through.
        for p, other in ((self.players[0], "p2"), (self.players[1], "p1")):
            p.wait_for_line(rf'peer "{other}" \([0-9a-f]+\) joined', timeout=15, from_start=True)

    def set_loss(self, per_mille: int) -> None:
        """Drop per_mille / 1000 of the TCP packets on each player's cable, each way (0: none)."""
        set_cable_loss(self.player_hosts, per_mille)

    def dropped(self) -> int:
        """Packets the loss rules have dropped since set_loss()."""
        return cable_drops(self.player_hosts)

    def stream(self, seconds: float, rate: float = 1000) -> dict:
        """meshbench's timed stream p1 -> p2; its JSON summary (latencies in ms)."""
        out = self.lab.dir / "stream.json"
        out.unlink(missing_ok=True)
        bench = self.lab.spawn("meshbench", [
            meshlab.binary("MESHBENCH"), "--only", "stream", "--stream-from", self.ports[0],
            "--stream-to", self.ports[1], "--seconds", str(seconds), "--rate", str(rate),
            "--json", str(out)])
        code = bench.wait(timeout=seconds + 20)
        if code != 0 or not out.exists():
            fail(f"meshbench exited with {code}:\n{bench.tail()}")
        return json.loads(out.read_text())


def set_cable_loss(hosts: list[Host], per_mille: int) -> None:
    """Drop per_mille / 1000 of the TCP packets on each of `hosts`' cables (hosts of one
    Lab.hosts call), each way, at the switch; 0 removes the rules. Replaces earlier rules."""
    switch = hosts[0].cable[0]
    rules = "add table bridge impair\nflush table bridge impair\n"
    if per_mille > 0:
        rules += ("add chain bridge impair forward "
                  "{ type filter hook forward priority 0; }\n")
        for host in hosts:
            port = host.cable[1]
            for way in ("iifname", "oifname"):
                rules += (f"add rule bridge impair forward {way} {port} meta l4proto tcp "
                          f"numgen random mod 1000 < {per_mille} counter drop\n")
    r = subprocess.run(["ip", "netns", "exec", switch, "nft", "-f", "-"], input=rules,
                       text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        fail(f"nft in {switch}: {r.stdout.strip()}\n{rules}")


def cable_drops(hosts: list[Host]) -> int:
    """Packets the rules of set_cable_loss have dropped since they were last set."""
    switch = hosts[0].cable[0]
    r = subprocess.run(["ip", "netns", "exec", switch, "nft", "list", "table", "bridge",
                        "impair"], capture_output=True, text=True)
    return sum(int(n) for n in re.findall(r"counter packets (\d+)", r.stdout))
