"""rtplab: what the RTP-MIDI tests add to meshlab: a third-party AppleMIDI session to talk to
(RtpPeer, driving rtpmidi_peer.js on Node.js), free UDP port pairs, log patterns, and a main()
under which a skip fails in CI.

The Node.js packages are installed with `npm ci` from the committed lockfile into
$RTPMIDI_MODULES (a directory of the meson build dir, set by tests/meson.build), never into the
source tree; once per lockfile, under a file lock, so tests starting together install it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import meshlab
from meshlab import Lab, fail

HERE = Path(__file__).resolve().parent
PEER_SCRIPT = HERE / "rtpmidi_peer.js"
PACKAGE_DIR = HERE / "rtpmidi"  # package.json, package-lock.json and the avahi_pub stub
NPM_TIMEOUT = 600  # seconds; a first install downloads about 30 small packages


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def skip(reason: str) -> None:
    """Skip the test (exit 77), except under CI=true, where a missing tool is a failure."""
    if in_ci():
        fail(f"would skip, but CI is set: {reason}")
    meshlab.skip(reason)


def main(test_fn: Callable[[], None]) -> None:
    """meshlab.main, except that under CI=true the fixture's own skips (no jackd, not root,
    ...) fail the test: CI must run it, not report it skipped."""
    def run() -> None:
        try:
            test_fn()
        except meshlab.Skip as s:
            if in_ci():
                fail(f"skipped under CI=true: {s.reason}")
            raise

    meshlab.main(run)


# --- Node.js and the rtpmidi package ----------------------------------------------------------

def _package_files() -> list[Path]:
    files = [PACKAGE_DIR / "package.json", PACKAGE_DIR / "package-lock.json"]
    files += sorted(p for p in (PACKAGE_DIR / "avahi_pub-stub").rglob("*") if p.is_file())
    return files


def node_modules() -> str:
    """The directory holding node_modules/ with the locked packages, installed if needed."""
    target = os.environ.get("RTPMIDI_MODULES")
    if not target:
        fail("$RTPMIDI_MODULES is not set: run this test through `meson test` "
             "(tests/meson.build sets it)")
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed (tools/install-deps installs nodejs and npm)")
    digest = hashlib.sha256()
    for f in _package_files():
        digest.update(str(f.relative_to(PACKAGE_DIR)).encode() + b"\0" + f.read_bytes())
    want = digest.hexdigest()
    target_dir = Path(target)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    stamp = target_dir / "installed.sha256"
    with open(str(target_dir) + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test may be installing: wait for it
        if stamp.exists() and stamp.read_text().strip() == want:
            return str(target_dir)
        shutil.rmtree(target_dir, ignore_errors=True)
        target_dir.mkdir()
        for f in _package_files():
            dest = target_dir / f.relative_to(PACKAGE_DIR)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest)
        # --omit=optional: rtpmidi's optional mDNS packages need native builds and GitHub.
        r = subprocess.run(["npm", "ci", "--omit=optional", "--no-audit", "--no-fund",
                            "--ignore-scripts"],
                           cwd=target_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=NPM_TIMEOUT)
        if r.returncode != 0:
            skip(f"npm ci of tests/integration/rtpmidi failed (no registry access?):\n"
                 f"{r.stdout[-3000:]}")
        stamp.write_text(want + "\n")
    return str(target_dir)


# --- ports --------------------------------------------------------------------------------------

def free_udp_pair() -> int:
    """An even port P such that UDP P and P + 1 are both free on 127.0.0.1 now.
    Even: AppleMIDI's convention, and rtpmidi sends to odd ports from its data socket."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
        if port % 2 or port >= 65534:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
            try:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    fail("no two consecutive free UDP ports (the first even) on 127.0.0.1")
    return 0  # not reached


# --- log lines of midimesh's bridge (matched loosely: only what the spec fixes) -----------------

def unique_mesh(tag: str) -> str:
    """A mesh name no other test on this machine uses: a system avahi-daemon may be shared
    (start_avahi uses one already running), and nodes of one mesh name find each other."""
    return f"{tag}-{os.getpid()}"


def session_name(mesh: str, node: str) -> str:
    return f"midimesh {mesh} ({node})"


def session_ports(node: meshlab.Proc, timeout: float = 10) -> tuple[int, int]:
    m = node.wait_for_line(r'rtp-midi: session "[^"]*" on UDP ports (\d+) and (\d+)', timeout,
                           from_start=True)
    return int(m.group(1)), int(m.group(2))


def joined_line(peer: str) -> str:
    return rf'rtp-midi: "{re.escape(peer)}" joined through this node'


def left_line(peer: str) -> str:
    return rf'rtp-midi: "{re.escape(peer)}" left'


def silent_line(peer: str) -> str:
    return rf'rtp-midi: "{re.escape(peer)}" went silent'


def peer_joined_line(peer: str) -> str:
    """What another midimesh node logs when the RTP participant joins the mesh."""
    return rf'peer "{re.escape(peer)}" \([0-9a-f]{{16}}\) joined'


# --- the third-party session ---------------------------------------------------------------------

class RtpPeer:
    """One rtpmidi_peer.js process: a session named `name` on UDP `port` and `port` + 1,
    inviting `invite` ("HOST:PORT") if given. Ended with the lab (SIGKILL if still running)."""

    def __init__(self, lab: Lab, name: str, port: int | None = None,
                 invite: str | None = None):
        self.lab = lab
        self.name = name
        self.port = port if port is not None else free_udp_pair()
        modules = node_modules()
        argv = [shutil.which("node"), str(PEER_SCRIPT), "--name", name, "--port", str(self.port),
                "--modules", modules]
        if invite:
            argv += ["--invite", invite]
        self.argv = argv
        self.stderr_path = lab.dir / f"{name}.stderr.log"
        self.events_path = lab.dir / f"{name}.events.log"
        self._stderr = open(self.stderr_path, "wb")
        self._events_log = open(self.events_path, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, bufsize=0,
                                     preexec_fn=meshlab._child_setup(os.getpid()))
        lab.at_close(self.close)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        self._buffer = b""
        self._eof = False
        self.events: list[dict] = []  # every event read so far, in order
        self._cursor = 0  # events before this index were consumed by wait()
        self.midi: list[tuple[float, bytes]] = []  # (time read, message) of every midi event
        self.wait("ready", 20)

    def __repr__(self) -> str:
        return f"<RtpPeer {self.name} port {self.port} pid {self.proc.pid}>"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()
        self._events_log.close()

    def _read(self, deadline: float) -> dict | None:
        """The next event, or None at the deadline or end of output."""
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
        line, self._buffer = self._buffer.split(b"\n", 1)
        self._events_log.write(line.decode(errors="replace") + "\n")
        self._events_log.flush()
        try:
            event = json.loads(line)
        except ValueError:
            fail(f"{self.name}: not a JSON line on stdout: {line[:200]!r}")
        if event.get("event") == "midi":
            self.midi.append((time.monotonic(), bytes.fromhex(event["hex"])))
        self.events.append(event)
        return event

    def pump(self, timeout: float = 0) -> None:
        """Read whatever events arrived, waiting up to `timeout` for the first."""
        deadline = time.monotonic() + timeout
        while self._read(deadline) is not None:
            deadline = time.monotonic()

    def wait(self, kind: str, timeout: float = 15,
             where: Callable[[dict], bool] | None = None) -> dict:
        """The next event of `kind` (optionally matching `where`) not yet consumed."""
        deadline = time.monotonic() + timeout
        while True:
            while self._cursor < len(self.events):
                event = self.events[self._cursor]
                self._cursor += 1
                if event.get("event") == kind and (where is None or where(event)):
                    return event
                if event.get("event") == "error":
                    fail(f"{self.name}: {event.get('message')}")
            if self._read(deadline) is None:
                if self._eof:
                    fail(f"{self.name} exited (code {self.proc.wait()}) before {kind!r}; "
                         f"stderr: {self.stderr_path.read_text()[-2000:]}")
                fail(f"{self.name}: no {kind!r} event within {timeout:g} s; "
                     f"stderr: {self.stderr_path.read_text()[-2000:]}")

    def wait_connected(self, timeout: float = 20) -> dict:
        """Connected, and the library's own clock sync done (before that it drops sends)."""
        connected = self.wait("connected", timeout)
        self.wait("can_send", timeout)
        return connected

    def send(self, message: bytes) -> None:
        self.proc.stdin.write(f"send {message.hex()}\n".encode())
        self.wait("sent", 10)

    def received(self, count: int, timeout: float = 15) -> list[bytes]:
        """Waits until `count` messages arrived (or the timeout); returns every one so far."""
        deadline = time.monotonic() + timeout
        while len(self.midi) < count and self._read(deadline) is not None:
            pass
        return [m for _, m in self.midi]

    def bye(self, timeout: float = 10) -> None:
        """End the session with BY; the process exits 0."""
        self.proc.stdin.write(b"bye\n")
        self.wait("bye", timeout)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            fail(f"{self.name} did not exit after bye")
        if code != 0:
            fail(f"{self.name} exited with code {code} after bye")

    def kill(self) -> None:
        """SIGKILL: gone without a word, as a Mac that loses power or Wi-Fi."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
