#!/usr/bin/env python3
"""A Mac finds midimesh in its Network MIDI window: every node registers an AppleMIDI session
(_apple-midi._udp) named "midimesh MESH (NODE)" on its control port. Two nodes in automatic mode
on one computer, with a real avahi-daemon on loopback: avahi-browse lists both, each on the port
its node says it listens on (the second cannot have 5004 too)."""

import re
import shutil
import subprocess

import meshlab
from meshlab import Lab, Proc, fail, midimesh
import rtplab


MESH = rtplab.unique_mesh("zeroconf")


def start(lab: Lab, name: str) -> Proc:
    # Automatic mode: only what tells nodes on one computer apart, and a mesh of this test's own.
    return lab.spawn(name, [midimesh(), "--name", name, "--mesh", MESH, "--port-name", name,
                            "--midi-api", "jack"])


def unescape(text: str) -> str:
    """avahi-browse -p writes special characters of names as \\DDD (decimal)."""
    return re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1))), text)


def browse() -> dict[str, set[int]]:
    """Service name -> ports of the resolved _apple-midi._udp services on loopback."""
    try:
        out = subprocess.run(["avahi-browse", "-rtp", "_apple-midi._udp"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             timeout=5).stdout
    except subprocess.TimeoutExpired as e:
        # It waits for every resolution; one of a service just withdrawn (another test's) can
        # hang. What it printed so far counts; the next look may list more.
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout or ""
    found: dict[str, set[int]] = {}
    for line in out.splitlines():
        # =;IFACE;PROTO;NAME;TYPE;DOMAIN;HOST;ADDRESS;PORT;TXT
        fields = line.split(";")
        if fields[0] == "=" and len(fields) >= 9 and fields[4] == "_apple-midi._udp":
            found.setdefault(unescape(fields[3]), set()).add(int(fields[8]))
    return found


def test() -> None:
    if not shutil.which("avahi-browse"):
        rtplab.skip("avahi-browse is not installed (tools/install-deps installs avahi-utils)")
    with Lab() as lab:
        # Async JACK: both nodes open their ports at once, which under -S has hung a client
        # here (zeroconf_test opens one at a time instead); no MIDI is counted in this test.
        lab.start_jack(synchronous=False)
        lab.start_avahi()
        nodes = {n: start(lab, n) for n in ("a", "b")}
        want = {}
        for name, node in nodes.items():
            control, data = rtplab.session_ports(node, 15)
            if data != control + 1:
                fail(f"{name}: data port {data} is not control port {control} + 1")
            want[rtplab.session_name(MESH, name)] = control
        if len(set(want.values())) != len(want):
            fail(f"two sessions on one control port: {want}")

        seen: dict[str, set[int]] = {}

        def listed() -> bool:
            nonlocal seen
            seen = browse()
            return all(seen.get(n) == {p} for n, p in want.items())

        try:
            meshlab.wait_until(listed, 20, f"avahi-browse to list {want}")
        except meshlab.Failure as e:
            fail(f"{e}; it listed {seen}")
        print(f"avahi-browse lists both sessions: {want}")


rtplab.main(test)
