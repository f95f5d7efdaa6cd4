#!/usr/bin/env python3
"""Discovery through real mDNS: meshfind processes (the dns_sd backend of discovery/) on an
avahi-daemon restricted to loopback.

Checks: without avahi-daemon one clear line and no more, then recovery when it starts; two nodes
of mesh "a" see each other with their addresses; a node of mesh "b" is not reported to them and
is logged once as ignored; a TXT change (node -> hub) is seen; a clean exit is reported gone; an
avahi-daemon restart is survived (registered and browsing again). Needs root (start_avahi); uses
the one system avahi-daemon, so it must not run in parallel with other such tests.
"""

import os
import re
import signal
import subprocess
import time

import meshlab
from meshlab import Lab, fail

IDS = {"alpha": "a1a1a1a1a1a1a1a1", "beta": "b2b2b2b2b2b2b2b2", "gamma": "c3c3c3c3c3c3c3c3",
       "delta": "d4d4d4d4d4d4d4d4"}
NOT_RUNNING = r"avahi-daemon is not running .*systemctl start avahi-daemon.*--connect HOST"
RETRY_S = 2.0  # the backend's retry interval


def meshfind(lab: Lab, name: str, mesh: str, extra: tuple[str, ...] = ()) -> meshlab.Proc:
    return lab.spawn(name, [meshlab.binary("MESHFIND"), "--id", IDS[name], "--name", name,
                            "--mesh", mesh, "--seconds", "100", *extra])


def seen(peer: str, role: str = "node") -> str:
    # "seen ID NAME ROLE HOST ADDRESS...", with loopback's IPv4 address among the addresses.
    return rf"^seen {IDS[peer]} {peer} {role} \S+( \S+)* 127\.0\.0\.1( |$)"


def count(proc: meshlab.Proc, regex: str) -> int:
    return sum(1 for line in proc.lines() if re.search(regex, line))


def avahi_running() -> bool:
    return subprocess.run(["avahi-daemon", "--check"], stderr=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL).returncode == 0


def timed(proc: meshlab.Proc, regex: str, start: float, what: str, timeout: float = 10) -> None:
    proc.wait_for_line(regex, timeout, from_start=True)
    print(f"{what}: {(time.monotonic() - start) * 1000:.0f} ms", flush=True)


def test() -> None:
    with Lab() as lab:
        own_daemon = not avahi_running()
        if own_daemon:
            # No daemon at all: one clear line, no more over two retry periods, still running.
            lab.setenv("AVAHI_COMPAT_NOWARN", "1")
            alpha = meshfind(lab, "alpha", "a")
            alpha.wait_for_line(NOT_RUNNING, timeout=5)
            time.sleep(2.2 * RETRY_S)  # observing that nothing more is said takes time
            if not alpha.alive():
                fail(f"meshfind exited without avahi-daemon:\n{alpha.tail()}")
            if (n := count(alpha, NOT_RUNNING)) != 1 or count(alpha, r"mdns:") != 1:
                fail(f"expected exactly one line about the missing daemon, got:\n{alpha.tail()}")
            lab.start_avahi()
            started = time.monotonic()
            alpha.wait_for_line(r"discovery works again", timeout=3 * RETRY_S)
            print(f"recovered after the daemon started: "
                  f"{(time.monotonic() - started) * 1000:.0f} ms", flush=True)
        else:
            print("note: an avahi-daemon already runs (not ours): the parts without a daemon "
                  "and with a daemon restart are skipped", flush=True)
            lab.start_avahi()
            alpha = meshfind(lab, "alpha", "a")
        alpha.wait_for_line(r'announced "alpha" in mesh "a"', timeout=10, from_start=True)

        start = time.monotonic()
        beta = meshfind(lab, "beta", "a")
        gamma = meshfind(lab, "gamma", "b")
        timed(alpha, seen("beta"), start, "alpha saw beta after beta started")
        timed(beta, seen("alpha"), start, "beta saw alpha after beta started")
        # gamma is found (and ignored) by both, and finds (and ignores) both.
        for proc in (alpha, beta):
            proc.wait_for_line(rf'ignoring node "gamma" \({IDS["gamma"]}\).*mesh "b"',
                               from_start=True)
        for peer in ("alpha", "beta"):
            gamma.wait_for_line(rf'ignoring node "{peer}" \({IDS[peer]}\).*mesh "a"',
                                from_start=True)

        # beta becomes hub: its TXT record changes, alpha sees it.
        start = time.monotonic()
        os.kill(beta.pid, signal.SIGUSR1)  # alive: it is waited for below
        beta.wait_for_line(r"^announced hub$")
        timed(alpha, seen("beta", "hub"), start, "alpha saw beta's change to hub")

        # beta exits cleanly: alpha hears it is gone.
        start = time.monotonic()
        if beta.terminate() != 0:
            fail(f"beta exited with {beta.returncode}:\n{beta.tail()}")
        timed(alpha, rf"^gone {IDS['beta']}$", start, "alpha saw beta gone after SIGTERM")

        if own_daemon:
            # The daemon restarts: alpha registers and browses again, and a newcomer finds it.
            ours = [p for p in lab.procs if p.name == "avahi-daemon" and p.alive()]
            if len(ours) != 1:
                fail("the lab's avahi-daemon is not running")
            ours[0].terminate()
            alpha.wait_for_line(r"lost the connection to avahi-daemon", timeout=10)
            lab.start_avahi()
            alpha.wait_for_line(r"discovery works again", timeout=3 * RETRY_S)
            alpha.wait_for_line(r'announced "alpha" in mesh "a"', timeout=10)
            start = time.monotonic()
            delta = meshfind(lab, "delta", "a")
            timed(alpha, seen("delta"), start, "after the restart, alpha saw delta")
            timed(delta, seen("alpha"), start, "after the restart, delta saw alpha")

        # Nothing of mesh "b" was reported, and it was logged once per node, not per event.
        for proc in (alpha, beta):
            if count(proc, rf"^seen {IDS['gamma']}"):
                fail(f"{proc.name} reported gamma of mesh b:\n{proc.tail()}")
            if (n := count(proc, r'ignoring node "gamma"')) != 1:
                fail(f"{proc.name} logged gamma as ignored {n} times, expected once")
        if count(gamma, r"^seen "):
            fail(f"gamma (mesh b) reported a node of mesh a:\n{gamma.tail()}")
        for proc in (alpha, gamma):
            if count(proc, r"^seen " + IDS[proc.name]):
                fail(f"{proc.name} reported itself")


meshlab.main(test)
