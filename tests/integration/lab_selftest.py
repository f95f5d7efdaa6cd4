#!/usr/bin/env python3
"""Self-test of meshlab: JACK starts and stops, processes are watched and always ended.

Runs without midimesh: python3 tests/integration/lab_selftest.py   (0 pass, 1 fail, 77 skip)
"""

import os
import shutil
import subprocess
import sys

import meshlab
from meshlab import Lab, fail


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def jack_running(name: str) -> bool:
    out = subprocess.run(["jack_wait", "-s", name, "-c"], capture_output=True, text=True).stdout
    return out.strip() == "running"


def check_jack_and_cleanup() -> None:
    with Lab() as lab:
        jackd = lab.start_jack()
        server = lab.jack_server
        # Count-exact tests rely on it: an async dummy driver loses MIDI in xruns when busy.
        with open(f"/proc/{jackd.pid}/cmdline", "rb") as f:
            if b"-S" not in f.read().split(b"\0"):
                fail("the lab's JACK server does not run synchronously (-S)")
        if os.environ.get("JACK_DEFAULT_SERVER") != server:
            fail("JACK_DEFAULT_SERVER not set to the lab's server")
        # jack_lsp finds the lab's server through JACK_DEFAULT_SERVER alone.
        lsp = lab.spawn("jack_lsp", ["jack_lsp"])
        lsp.wait_for_line(r"^system:playback_1$", timeout=10)
        if lsp.wait() != 0:
            fail(f"jack_lsp failed:\n{lsp.tail()}")
        sleeper = lab.spawn("sleep", ["sleep", "600"])
        if sleeper.rss_kib() <= 0:
            fail("rss_kib() of a running process is not positive")
        sleeper.stop()
        sleeper.cont()
        pids = [jackd.pid, sleeper.pid]
    for pid in pids:
        if not gone(pid):
            fail(f"pid {pid} still exists after the lab ended")
    if jack_running(server):
        fail(f"JACK server {server} still answers after the lab ended")
    if "JACK_DEFAULT_SERVER" in os.environ:
        fail("JACK_DEFAULT_SERVER not restored after the lab ended")


def check_cleanup_on_exception() -> None:
    pids = []
    try:
        with Lab() as lab:
            pids.append(lab.start_jack().pid)
            stopped = lab.spawn("stopped", ["sleep", "600"])
            stopped.stop()  # a stopped process must be ended too
            pids.append(stopped.pid)
            raise RuntimeError("test error")
    except RuntimeError:
        pass
    else:
        fail("the exception did not propagate out of the lab")
    for pid in pids:
        if not gone(pid):
            fail(f"pid {pid} survived an exception in the lab")


def check_wait_for_line() -> None:
    with Lab() as lab:
        p = lab.spawn("printer", ["sh", "-c", "echo port 1; echo port 22; echo done; exec sleep 600"])
        if p.wait_for_line(r"port (\d+)").group(1) != "1":
            fail("first match wrong")
        if p.wait_for_line(r"port (\d+)").group(1) != "22":  # lines are consumed in order
            fail("second match wrong")
        if p.wait_for_line(r"port (\d+)", from_start=True).group(1) != "1":
            fail("from_start did not rescan")
        try:
            p.wait_for_line(r"never", timeout=0.2)
        except meshlab.Failure as e:
            if "done" not in str(e):
                fail(f"timeout message lacks the log tail: {e}")
        else:
            fail("wait_for_line did not time out")
        quick = lab.spawn("quick", ["sh", "-c", "echo bye; exit 3"])
        try:
            quick.wait_for_line(r"never", timeout=30)  # must fail at once, not after 30 s
        except meshlab.Failure as e:
            if "exited with code 3" not in str(e):
                fail(f"exit not reported: {e}")
        if p.terminate() != -15:
            fail("terminate() did not return -SIGTERM")
        if lab.free_port() <= 0:
            fail("free_port")


def check_sigterm() -> None:
    """What meson's timeout does: SIGTERM to the test; its processes must end with it."""
    with Lab() as lab:
        child = lab.spawn("child", [sys.executable, __file__, "--child"],
                          env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})
        m = child.wait_for_line(r"pids (\d+) (\d+) dir (.+)", timeout=20)
        pids = [int(m.group(1)), int(m.group(2))]
        child_dir = m.group(3)
        code = child.terminate(timeout=10)
        if code != 1:
            fail(f"child exited with {code} on SIGTERM, expected 1:\n{child.tail()}")
        for pid in pids:
            if not gone(pid):
                fail(f"pid {pid} of the terminated test survived")
        shutil.rmtree(child_dir)  # a failed (terminated) test keeps its logs; not wanted here


def child() -> None:
    with Lab() as lab:
        jackd = lab.start_jack()
        sleeper = lab.spawn("sleep", ["sleep", "600"])
        print(f"pids {jackd.pid} {sleeper.pid} dir {lab.dir}", flush=True)
        sleeper.wait(600)


def test() -> None:
    check_jack_and_cleanup()
    check_cleanup_on_exception()
    check_wait_for_line()
    check_sigterm()


if __name__ == "__main__":
    meshlab.main(child if sys.argv[1:] == ["--child"] else test)
