#!/usr/bin/env python3
"""meshtop against real meshes: its --json lines show exactly the nodes that run, the hub, and
counters that match the MIDI the test sent; a node killed with SIGKILL turns stale, then goes;
found by mDNS, it follows a failover to the new hub and term; --once prints a table; and the
full-screen view, run in tmux at 80x24, reads as a person would see it and answers s, h and q."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import meshlab
from meshlab import Lab, Proc, fail, node_id, start_hub, start_node, wait_until
from wireclient import WireClient

N = 50  # MIDI messages the test sends


def meshtop() -> str:
    return meshlab.binary("MESHTOP")


class JsonWatch:
    """A `meshtop --json` process and the objects it printed."""

    def __init__(self, lab: Lab, name: str, args: list[str]):
        self.proc = lab.spawn(name, [meshtop(), "--json", "--refresh", "0.25", *args])
        self.seen = 0  # lines already parsed
        self.events: list[dict] = []

    def objects(self) -> list[dict]:
        out = []
        for line in self.proc.lines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line still being written
        for obj in out[self.seen:]:
            self.events.extend(obj["events"])
        self.seen = max(self.seen, len(out))
        return out

    def wait_for(self, cond, timeout: float, what: str) -> dict:
        """The first new object for which cond(obj) holds."""
        def check():
            start = self.seen
            objs = self.objects()
            return next((o for o in objs[start:] if cond(o)), None)
        return wait_until(check, timeout, f"meshtop to show {what}; last line: "
                          f"{(self.objects() or ['nothing'])[-1]}")


def by_name(obj: dict) -> dict[str, dict]:
    return {n["name"]: n for n in obj["nodes"]}


def connect_mode(lab: Lab) -> None:
    hub, port = start_hub(lab, extra=["--no-midi"])
    nodes = {n: start_node(lab, n, port, ["--no-midi"]) for n in ("n1", "n2")}
    client = WireClient("127.0.0.1", port, "player")
    try:
        client.join()
        for i in range(N):
            client.send_midi(bytes([0x90, 60 + i % 12, 100]))
    finally:
        client.close()

    watch = JsonWatch(lab, "meshtop-json", ["--connect", f"127.0.0.1:{port}"])
    names = {"hub", "n1", "n2"}

    def counted(o: dict) -> bool:
        rows = by_name(o)
        return set(rows) == names and all(r["midi_in"] == N for r in rows.values())
    obj = watch.wait_for(counted, 10, f"exactly {sorted(names)} with midi_in == {N} each")
    rows = by_name(obj)
    if obj["hub"] != "hub" or not rows["hub"]["is_hub"] or rows["hub"]["role"] != "hub":
        fail(f"meshtop shows hub {obj['hub']!r}, rows {rows}")
    if any(rows[n]["is_hub"] or rows[n]["role"] != "node" for n in ("n1", "n2")):
        fail(f"a follower is shown as hub: {rows}")
    if any(r["midi_out"] != 0 or r["lost"] != 0 or r["stale"] for r in rows.values()):
        fail(f"unexpected counters: {rows}")
    if obj["node_count"] != 3 or obj["totals"]["lost"] != 0:
        fail(f"header: {obj}")
    watch.wait_for(lambda o: all(r["rtt_ms"] is not None for r in o["nodes"]), 5,
                   "a round trip for every node")
    print(f"--json: 3 nodes, hub 'hub', midi_in == {N} on each receiver")

    once = subprocess.run([meshtop(), "--once", "--width", "120", "--connect",
                           f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=10)
    lines = once.stdout.splitlines()
    if once.returncode != 0 or not lines or "hub hub (term" not in lines[0]:
        fail(f"--once: exit {once.returncode}:\n{once.stdout}{once.stderr}")
    table = {l.split()[0].lstrip("*!"): l for l in lines[2:] if l.strip()}
    if set(table) != names or not table["hub"].startswith("*"):
        fail(f"--once table:\n{once.stdout}")
    print("--once:\n" + once.stdout)

    full_screen(lab, port)

    nodes["n2"].kill()
    killed_at = time.monotonic()
    stale = watch.wait_for(lambda o: by_name(o).get("n2", {}).get("stale"), 6, "n2 stale")
    after = time.monotonic() - killed_at
    if after < 1.5:
        fail(f"n2 marked stale {after:.1f} s after it was killed: too early")
    if by_name(stale)["n1"]["stale"] or stale["stale_count"] != 1:
        fail(f"only n2 should be stale: {stale}")
    watch.wait_for(lambda o: set(by_name(o)) == {"hub", "n1"}, 12, "n2 gone")
    kinds = [(e["kind"], e["name"]) for e in watch.events]
    for want in [("stale", "n2"), ("gone", "n2"), ("joined", "n1")]:
        if want not in kinds:
            fail(f"no {want} event in {kinds}")
    # By id: when a follower's report (which names its hub by id) comes before the hub's own,
    # the event can only call it by its id (seen beside meshbench, ci34).
    hub_id = node_id(hub)
    if not any(e["kind"] == "hub" and e["id"] == hub_id for e in watch.events):
        fail(f"no hub event for the hub ({hub_id}) in {watch.events}")
    print(f"SIGKILLed n2: stale after {after:.1f} s, then gone; events {kinds}")
    watch.proc.terminate()
    if watch.proc.returncode != 0:
        fail(f"meshtop --json exited {watch.proc.returncode} on SIGTERM")


def full_screen(lab: Lab, port: int) -> None:
    if not shutil.which("tmux"):
        meshlab.skip("tmux is not installed (tools/install-deps installs it)")
    sock = f"meshtop-{os.getpid()}"
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    status = lab.dir / "screen-exit"
    # The pane's shell records meshtop's exit code; the tmux server is ours (its own socket) and
    # is ended by that socket when the lab closes.
    cmd = f"{meshtop()} --connect 127.0.0.1:{port}; echo $? > {status}"
    subprocess.run([*tmux, "new-session", "-d", "-s", "top", "-x", "80", "-y", "24", cmd],
                   check=True, env={**os.environ, "TERM": "xterm-256color"})
    lab.at_close(lambda: subprocess.run([*tmux, "kill-server"], stderr=subprocess.DEVNULL))

    def screen() -> list[str]:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", "top"], capture_output=True,
                              text=True).stdout.splitlines()

    def shows(*texts: str):
        def cond():
            s = screen()
            return s if all(any(t in l for l in s) for t in texts) else None
        return cond

    s = wait_until(shows("mesh default  hub hub (term", "nodes 3", "*hub", " n1 ", " n2 ",
                         "LOST", "-- events"), 10, "the full-screen table")
    if len(s) > 24 or any(len(l) > 80 for l in s):
        fail("the screen overflows 80x24:\n" + "\n".join(s))
    rows = [l for l in s if l.startswith(("*", " n"))]
    if not any(l.startswith("*hub ") and " hub " in l for l in rows):
        fail("no row marks the hub:\n" + "\n".join(s))
    capture = "\n".join(l.rstrip() for l in s)
    (lab.dir / "screen.txt").write_text(capture + "\n")
    print("full screen at 80x24:\n" + capture)

    subprocess.run([*tmux, "send-keys", "-t", "top", "s"], check=True)
    wait_until(shows("s sort (ID^)"), 5, "s to sort by the ID column")
    subprocess.run([*tmux, "send-keys", "-t", "top", "S"], check=True)
    wait_until(shows("s sort (IDv)"), 5, "S to reverse the order")
    subprocess.run([*tmux, "send-keys", "-t", "top", "h"], check=True)
    wait_until(shows(" help ", "messages lost"), 5, "h to show the help")
    subprocess.run([*tmux, "send-keys", "-t", "top", "x"], check=True)
    wait_until(lambda: not shows(" help ")(), 5, "any key to close the help")
    subprocess.run([*tmux, "send-keys", "-t", "top", "q"], check=True)
    wait_until(lambda: status.exists() and status.read_text().strip(), 5, "q to quit meshtop")
    if status.read_text().strip() != "0":
        fail(f"meshtop exited {status.read_text().strip()} on q")
    print("keys s, S, h and q work")


def mdns_failover(lab: Lab) -> None:
    lab.start_avahi()
    mesh = f"mt{os.getpid()}"
    nodes = {n: lab.spawn(n, [meshlab.midimesh(), "--name", n, "--mesh", mesh, "--no-midi"])
             for n in ("a", "b", "c")}
    hub = wait_until(lambda: meshlab.one_hub(nodes), 15, "one hub among a, b, c")
    watch = JsonWatch(lab, "meshtop-mdns", ["--mesh", mesh])
    obj = watch.wait_for(lambda o: set(by_name(o)) == set(nodes) and o["hub"] == hub, 15,
                         f"a, b and c with hub {hub}")
    term = obj["term"]
    if [n for n, r in by_name(obj).items() if r["is_hub"]] != [hub]:
        fail(f"meshtop shows these as hub: {obj}")
    print(f"mDNS: meshtop found a, b, c with hub {hub} (term {term})")
    nodes[hub].kill()
    rest = {n: p for n, p in nodes.items() if n != hub}
    new = wait_until(lambda: meshlab.one_hub(rest), 10, "a new hub")
    obj = watch.wait_for(lambda o: o["hub"] == new and o["term"] > term, 10,
                         f"the new hub {new} with a term above {term}")
    if not any(e["kind"] == "hub" and e["name"] == new for e in watch.events):
        fail(f"no hub event for {new}: {watch.events}")
    print(f"failover: meshtop shows hub {new} (term {obj['term']})")
    watch.wait_for(lambda o: set(by_name(o)) == set(rest), 15, f"{hub} gone")
    # meshtop is no node: the nodes never heard of it.
    for p in rest.values():
        if any("meshtop" in l for l in p.lines()):
            fail(f"{p.name} heard of meshtop")


def exit_codes(lab: Lab) -> None:
    """Scripts can tell a usage error (2) and an empty mesh (1) from a mesh shown (0)."""
    usage = subprocess.run([meshtop(), "--no-such-option"], capture_output=True, text=True)
    if usage.returncode != 2:
        fail(f"a usage error exited {usage.returncode}, not 2: {usage.stderr}")
    nobody = subprocess.run([meshtop(), "--once", "--json", "--wait", "0.5", "--connect",
                             f"127.0.0.1:{lab.free_port()}"], capture_output=True, text=True,
                            timeout=30)
    if nobody.returncode != 1 or "no node reported" not in nobody.stderr:
        fail(f"--once with no node exited {nobody.returncode}: {nobody.stderr}")
    line = json.loads(nobody.stdout)
    if line["schema"] != 1 or abs(line["time_ms"] / 1000 - time.time()) > 60:
        fail(f"--json line without schema 1 and the time: {nobody.stdout}")
    print("exit codes: 2 for a usage error, 1 for --once with no node; --json has schema and time")


def test() -> None:
    with Lab() as lab:
        exit_codes(lab)
        connect_mode(lab)
    with Lab() as lab:
        mdns_failover(lab)


meshlab.main(test)
