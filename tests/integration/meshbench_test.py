#!/usr/bin/env python3
"""meshbench runs every scenario end to end on a small scale and loses nothing: each message
it counts as sent through the hub, through real node processes, through the RTP-MIDI bridge
(both ways, with meshbench as the RTP-MIDI peer) and through a real JACK server arrives at every
receiver, and every join and failover trial (with a real avahi-daemon on
loopback) completes without loss. It asserts counts only, never a time: speed is what meshbench
reports, not what a test decides."""

import json
import os
import subprocess

import meshlab
from meshlab import Lab, fail, skip


def meshbench() -> str:
    path = os.environ.get("MESHBENCH")
    if not path or not os.path.exists(path):
        skip("MESHBENCH is not set to a built meshbench")
    return path


def check_counts(report: dict, section: str, expected_entries: int) -> None:
    entries = report.get(section) or []
    if len(entries) != expected_entries:
        fail(f"{section}: {len(entries)} result(s), not {expected_entries}: {entries}")
    for e in entries:
        name = f"{section} {e.get('scenario')} {e.get('path', '')}".strip()
        if e["sent"] <= 0 or e["delivered"] != e["expected"] or e["drops"] != 0:
            fail(f"{name}: sent {e['sent']}, delivered {e['delivered']} of {e['expected']}, "
                 f"{e['drops']} dropped")


def test() -> None:
    with Lab() as lab:
        lab.start_avahi()  # for the mDNS join and the failovers
        out = lab.dir / "meshbench.json"
        log = lab.dir / "meshbench.log"
        argv = [meshbench(), "--midimesh", meshlab.midimesh(), "--json", str(out),
                "--hub-log", str(lab.dir / "hub.log"),
                "-r", "3", "-m", "20000", "-d", "0.5",
                "--nodes", "3", "--fleet", "3", "--node-seconds", "0.5",
                "--node-messages", "3000", "--idle-seconds", "0.5", "--rtp-seconds", "0.5",
                "--jack-periods", "512", "--jack-nodes", "3", "--jack-seconds", "0.5",
                "--trials", "2", "--fairness-seconds", "1"]
        with open(log, "w") as f:
            code = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, timeout=240).returncode
        text = log.read_text()
        if code != 0:
            fail(f"meshbench exited with {code}:\n{text[-3000:]}")
        report = json.loads(out.read_text())
        check_counts(report, "throughput", 4)  # 1->3 and 3<->3, through the hub and direct
        check_counts(report, "latency", 6)  # 1->1, 1->3, 3<->3 through the hub and direct
        check_counts(report, "node_latency", 2)  # 1 of 3, all 3
        check_counts(report, "node_throughput", 2)
        if not report.get("idle") or report["node_peak_rss_kib"] <= 0:
            fail("no idle or memory reading of the nodes")
        rtp = report.get("rtp_latency") or {}
        paths = [r["path"] for r in rtp.get("results", [])]
        if paths != ["mesh", "rtp_in", "rtp_out"]:
            fail(f"RTP-MIDI bridge: paths {paths}, not mesh, rtp_in, rtp_out: {rtp}")
        for r in rtp["results"]:
            if (r["error"] or r["sent"] <= 0 or r["delivered"] != r["expected"] or r["lost"]
                    or r["duplicates"] or r["samples"] != r["delivered"]):
                fail(f"RTP-MIDI bridge, {r['scenario']}: {r}")
        if rtp["peer_lost"] or rtp["peer_malformed"]:
            fail(f"RTP-MIDI bridge: the peer's session counted losses or bad packets: {rtp}")
        jack = report["jack_latency"]
        if jack["skipped"]:
            print(f"JACK variant skipped: {jack['skipped']}")
        else:
            for r in jack["results"]:
                if r["error"] or r["delivered"] != r["expected"] or r["lost"] or r["sent"] <= 0:
                    fail(f"through JACK at {r['period_frames']} frames: {r}")
        fairness = report["fairness"]
        if (fairness["sent"] <= 0 or fairness["delivered"] != fairness["expected"]
                or fairness["gaps"] or "budget_dropped=0 " in fairness["hub_stats"]
                or "budget_dropped=" not in fairness["hub_stats"]):
            fail(f"fairness: the honest streams lost messages, or the floods were not counted "
                 f"over budget: {fairness}")
        for section in ("join", "failover"):
            for r in report[section]:
                if r["skipped"] or r["ok"] != 2 or r["failures"] or r.get("lost", 0):
                    fail(f"{section} {r['scenario']}: {r}")
        print(f"meshbench: every scenario delivered all it sent\n{text[-1500:]}")


meshlab.main(test)
