"""Drives tests/support/midiprobe: plays into a node's MIDI input and listens to its output
through the real JACK server of a Lab. See the top of midiprobe.cpp for its commands."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import time

import meshlab
from meshlab import Lab, fail


def fnv1a(messages: list[bytes]) -> str:
    """midiprobe's checksum: 64-bit FNV-1a over every byte, in arrival order."""
    h = 14695981039346656037
    for m in messages:
        for b in m:
            h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"  # as midiprobe prints it: 16 digits, zero-padded


def sysex(total: int) -> bytes:
    """midiprobe's `sysex N` pattern."""
    return bytes([0xF0] + [(i * 7 + 3) & 0x7F for i in range(1, total - 1)] + [0xF7])


class Probe:
    """One midiprobe process: sends to `send_to`'s input and receives from `recv_from`'s output
    (JACK port name substrings, e.g. "a-in" and "a-out" for a node with --port-name a).
    With `host` (a meshlab.Host of Lab.hosts) it runs on that host, on that host's JACK server."""

    def __init__(self, lab: Lab, name: str, *, send_to: str | None = None,
                 recv_from: str | None = None, host: meshlab.Host | None = None,
                 verbose: bool = False):
        self.name = name
        argv = [meshlab.midiprobe(), "--name", name, "--timeout", "300"]
        if not verbose:
            argv.append("--quiet")
        if send_to:
            argv += ["--send-to", send_to]
        if recv_from:
            argv += ["--recv-from", recv_from]
        env = None
        if host:
            argv = host.wrap(argv)
            env = {**os.environ, **host.env}
        self.stderr_path = lab.dir / f"{name}.stderr.log"
        self._stderr = open(self.stderr_path, "wb")
        # Unbuffered bytes, split into lines here: a buffered reader could hold lines that
        # select() no longer reports, and each line gets the time it was read.
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, bufsize=0, env=env,
                                     preexec_fn=meshlab._child_setup(os.getpid()))
        lab.at_close(self.close)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        self._buffer = b""
        self._eof = False
        self.recv_log: list[tuple[float, bytes]] = []  # (time.monotonic(), message), verbose
        # A deadline, not a measure: a synchronous JACK server on a busy machine can take tens of
        # seconds to activate a client (20 s were too few beside meshbench, ci18).
        self.ready = self._read_line(r"^ready ", meshlab.SERVICE_START)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.wait(5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()

    def stop(self) -> None:
        """End it now, even in the middle of a burst: SIGTERM (it closes its JACK clients;
        after SIGKILL, JACK would wait for the dead ones, delaying new clients by seconds)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()

    def _next_line(self, deadline: float) -> tuple[float, str] | None:
        """The next line of output with the time it was read, or None at the deadline."""
        while b"\n" not in self._buffer:
            if self._eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0 or not self._selector.select(left):
                return None
            data = os.read(self.proc.stdout.fileno(), 65536)
            if not data:
                self._eof = True
                continue
            self._buffer += data
            self._read_at = time.monotonic()
        line, self._buffer = self._buffer.split(b"\n", 1)
        text = line.decode("utf-8", errors="replace")
        if text.startswith("recv "):
            self.recv_log.append((self._read_at, bytes.fromhex(text[5:])))
        return self._read_at, text

    def _read_line(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            got = self._next_line(deadline)
            if got is None:
                if self._eof:
                    fail(f"{self.name} exited (code {self.proc.wait()}); "
                         f"stderr: {self.stderr_path.read_text()[-2000:]}")
                fail(f"{self.name}: no reply matching /{pattern}/ within {timeout:g} s; "
                     f"stderr: {self.stderr_path.read_text()[-2000:]}")
            line = got[1]
            if m := re.search(pattern, line):
                return m
            if line.startswith("error"):
                fail(f"{self.name}: {line.strip()}")

    def next_recv(self, deadline: float) -> tuple[float, bytes] | None:
        """(verbose probes) The next message received, with the time its line was read, or
        None at `deadline` (time.monotonic()). Messages are also kept in recv_log."""
        while True:
            got = self._next_line(deadline)
            if got is None:
                return None
            if got[1].startswith("recv "):
                return self.recv_log[-1]

    def start_burst(self, count: int, channel: int, rate: int) -> float:
        """Starts a burst and returns at once, with the time the command was written: message
        i leaves no earlier than that time + i / rate. The probe answers no other command until
        the burst is over (finish_burst) or it is killed."""
        sent_at = time.monotonic()
        self.proc.stdin.write(f"burst {count} {channel} {rate}\n".encode())
        return sent_at

    def finish_burst(self, timeout: float) -> None:
        self._read_line(r"^burst ", timeout)

    def command(self, line: str, reply: str, timeout: float = 30) -> re.Match[str]:
        self.proc.stdin.write((line + "\n").encode())
        return self._read_line(reply, timeout)

    def send(self, message: bytes) -> None:
        self.command(f"send {message.hex()}", r"^sent ")

    def send_sysex(self, total: int) -> None:
        self.command(f"sysex {total}", r"^sent ")

    def burst(self, count: int, channel: int, rate: int) -> None:
        """Starts nothing in the background: returns when the burst has been written."""
        self.command(f"burst {count} {channel} {rate}", r"^burst ", timeout=count / rate + 30)

    def received(self, count: int, timeout_ms: int = 20_000) -> dict[str, str]:
        """Waits until `count` messages arrived (or the timeout) and returns `stats all`."""
        m = self.command(f"expect all {count} {timeout_ms}", r"^stats all (.*)$",
                         timeout_ms / 1000 + 10)
        return dict(kv.split("=") for kv in m.group(1).split())

    def channel(self, channel: int, count: int, timeout_ms: int = 20_000) -> dict[str, int]:
        m = self.command(f"expect {channel} {count} {timeout_ms}", rf"^stats ch={channel} (.*)$",
                         timeout_ms / 1000 + 10)
        return {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}

    def all_stats(self) -> dict[str, str]:
        m = self.command("stats all", r"^stats all (.*)$")
        return dict(kv.split("=") for kv in m.group(1).split())

    def reset(self) -> None:
        self.command("reset", r"^ok")
