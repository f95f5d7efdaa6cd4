"""meshlab: the fixture of midimesh's integration tests (Python 3.11, standard library only).

Each integration test is one script that meson runs; it exits 0 (pass), 1 (fail) or 77 (skip,
with the reason printed). A test reads:

    import meshlab

    def test():
        with meshlab.Lab() as lab:
            lab.start_jack()
            hub = lab.spawn("hub", [meshlab.midimesh(), "hub", "--port", str(lab.free_port())])
            hub.wait_for_line(r"listening")
            ...
            if something_wrong:
                meshlab.fail("node saw 3 of 4 notes")

    meshlab.main(test)

The Lab owns every process and service it starts and ends each by its PID when the `with` block
ends, also when the test fails, raises, or meson's timeout sends SIGTERM. Synchronisation is
always "wait for a condition, with a deadline", never a fixed sleep.

Why children stay in the test's process group: on timeout meson sends SIGTERM to the test's
process group and SIGKILL 0.5 s later. Children in the same group die with the test even if the
cleanup has no time to run; in their own session they would be orphaned. As a second net, every
child gets PR_SET_PDEATHSIG, so it is killed when the test process dies by any means.
Only the processes the Lab started are tracked: spawn the program itself, or `exec` it from a
shell, so that no grandchild outlives the test.

Tests run in parallel. Each lab's JACK server has its own name, and (as root) the test process
gets a private /dev/shm, because JACK clients of the same name collide across servers otherwise
(see _isolate_jack). Tests that call start_avahi share the one system avahi-daemon: mark them
is_parallel: false. Logs: a temporary directory per lab, removed after a pass, kept and printed
after a failure; MESHLAB_KEEP=1 keeps them always.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SKIP_CODE = 77  # meson's "skipped" exit code
POLL_INTERVAL = 0.02  # seconds between looks at a log or a condition
# How long a service a test needs (jackd, D-Bus, avahi-daemon) or a node's JACK client may take
# to come up. A deadline, not a measure of midimesh: beside meshbench a synchronous JACK server
# took 5 s to start (1 s quiet) and once over 10 s, though the test ran at niceness -20.
SERVICE_START = 60.0
TAIL_LINES = 30


class Failure(AssertionError):
    """The test found something wrong (exit 1)."""


class Skip(SystemExit):
    """The test cannot run here (exit 77). A SystemExit, so it exits 77 even outside main()."""

    def __init__(self, reason: str):
        super().__init__(SKIP_CODE)
        self.reason = reason


class Terminated(SystemExit):
    """SIGTERM arrived (meson's timeout): unwinds the stack so that every Lab cleans up."""

    def __init__(self) -> None:
        super().__init__(1)


def fail(msg: str) -> None:
    raise Failure(msg)


def skip(msg: str) -> None:
    """Skip the test, printing the reason (raise Skip directly and no reason is printed)."""
    print(f"SKIP: {msg}", flush=True)
    raise Skip(msg)


def binary(var: str) -> str:
    """Path of a build product that meson passes in the environment variable `var`."""
    path = os.environ.get(var)
    if not path:
        fail(f"${var} is not set: run this test through `meson test` (tests/meson.build sets it)")
    if not os.access(path, os.X_OK):
        fail(f"${var}={path} is not an executable file: build first")
    return path


def midimesh() -> str:
    return binary("MIDIMESH")


def midiprobe() -> str:
    return binary("MIDIPROBE")


def wait_until(cond: Callable[[], object], timeout: float, what: str) -> object:
    """Poll `cond` until it returns something true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_INTERVAL)


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _install_sigterm_handler() -> None:
    # Only the main thread may set handlers; leave a handler someone else installed alone.
    try:
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:
        pass


@contextmanager
def _sigterm_deferred() -> Iterator[None]:
    """Let cleanup finish: a second SIGTERM must not interrupt it half-way."""
    try:
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_PR_SET_PDEATHSIG = 1
_CLONE_NEWNS = 0x00020000
_MS_REC, _MS_PRIVATE = 0x4000, 0x40000
_jack_isolation: str | None = None  # "private /dev/shm" or "lock", once per test process


def _isolate_jack() -> str:
    """Keep this test's JACK servers and clients apart from those of tests running in parallel.

    JACK2 keeps every server's shared memory and every client's socket in /dev/shm, the client
    sockets named after the client name but not the server (/dev/shm/jack_<client>_<uid>_<n>).
    Two tests with a client of the same name, even on different servers, break each other's
    connections (measured: 4 labs in parallel, 2-9 of 15 jack_lsp runs failed). So, as root,
    this process moves into its own mount namespace with a private /dev/shm, inherited by every
    child and gone with the last of them. Without the privilege, JACK labs take turns instead
    (an exclusive lock, held until the lab closes).
    """
    global _jack_isolation
    if _jack_isolation is None:
        if (_libc.unshare(_CLONE_NEWNS) == 0
                and _libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) == 0
                and _libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", 0, b"mode=1777") == 0):
            _jack_isolation = "private /dev/shm"
        else:
            _jack_isolation = "lock"
    return _jack_isolation


def _child_setup(parent_pid: int) -> Callable[[], None]:
    def setup() -> None:
        # Runs in the child between fork and exec: die with the test process.
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return setup


class Proc:
    """A process started by a Lab; stdout and stderr go to `log_path`."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self._cursor = 0  # lines before this index were consumed by wait_for_line
        self._lines: list[str] = []  # complete lines read so far
        self._partial = ""  # text after the last newline
        self._offset = 0  # bytes of the log read so far
        self._role: tuple[tuple[str, str | None], int] = (("none", None), 0)  # role(), lines read
        try:
            self._popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                env=env, preexec_fn=_child_setup(os.getpid()))
        except OSError as e:
            self._log.close()
            fail(f"{name}: cannot start {self.argv[0]}: {e}")

    def __repr__(self) -> str:
        return f"<Proc {self.name} pid {self.pid}>"

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """Exit code (negative: killed by that signal), or None while it runs."""
        return self._popen.poll()

    def alive(self) -> bool:
        return self._popen.poll() is None

    def lines(self) -> list[str]:
        """Every line written so far (a last line without its newline included)."""
        self._refresh()
        return self._lines + ([self._partial] if self._partial else [])

    def _refresh(self) -> None:
        # Read only what was appended since the last look: logs of flood tests grow large.
        with open(self.log_path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        text = self._partial + data.decode("utf-8", errors="replace")
        *complete, self._partial = text.split("\n")
        self._lines.extend(complete)

    def tail(self, n: int = TAIL_LINES) -> str:
        lines = self.lines()
        return "\n".join(lines[-n:]) if lines else "(empty log)"

    def wait_for_line(self, regex: str, timeout: float = 10.0, *,
                      from_start: bool = False) -> re.Match[str]:
        """Wait for a line matching `regex` (re.search) and return the match.

        Lines are consumed in order, like `expect`: the next call looks only after the line
        matched here, unless from_start=True. Fails early if the process exits without writing
        it, and on timeout; the failure shows the last lines of the log.
        """
        pattern = re.compile(regex)
        deadline = time.monotonic() + timeout
        start = 0 if from_start else self._cursor
        while True:
            exited = not self.alive()  # read after this check, so no line is missed
            self._refresh()
            # A line still being written could match too early (r"port (\d+)" on "port 12"),
            # so only complete lines count, unless the process has exited.
            lines = self._lines + ([self._partial] if exited and self._partial else [])
            for i in range(start, len(lines)):
                if m := pattern.search(lines[i]):
                    self._cursor = i + 1
                    return m
            start = max(start, len(self._lines))
            if exited:
                fail(f"{self.name} (pid {self.pid}) exited with code {self.returncode} "
                     f"without a line matching /{regex}/; last lines:\n{self.tail()}")
            if time.monotonic() >= deadline:
                fail(f"{self.name} (pid {self.pid}): no line matching /{regex}/ within "
                     f"{timeout:g} s; last lines:\n{self.tail()}")
            time.sleep(POLL_INTERVAL)

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the process to exit by itself; return its exit code."""
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            fail(f"{self.name} (pid {self.pid}) still running after {timeout:g} s; "
                 f"last lines:\n{self.tail()}")
            raise  # not reached

    def terminate(self, timeout: float = 5.0) -> int:
        """SIGTERM, then SIGKILL if still running after `timeout`; return the exit code."""
        if self.alive():
            self._signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            self._signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"meshlab: {self.name} (pid {self.pid}) ignored SIGTERM for "
                      f"{timeout:g} s: SIGKILL", file=sys.stderr, flush=True)
                return self.kill()
        return self._finish()

    def kill(self) -> int:
        """SIGKILL, and wait for the process to be gone; return the exit code."""
        if self.alive():
            self._signal(signal.SIGKILL)
        self._popen.wait()
        return self._finish()

    def stop(self) -> None:
        """Freeze the process (SIGSTOP), e.g. to simulate a hung peer."""
        self._signal(signal.SIGSTOP)

    def cont(self) -> None:
        self._signal(signal.SIGCONT)

    def rss_kib(self) -> int:
        """Resident memory in KiB (VmRSS in /proc/PID/status)."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except FileNotFoundError:
            pass
        fail(f"{self.name} (pid {self.pid}): no VmRSS in /proc (exited?)")
        return 0  # not reached

    def _signal(self, sig: int) -> None:
        # Popen.send_signal does nothing once the process was reaped, so a recycled PID is safe.
        self._popen.send_signal(sig)

    def _finish(self) -> int:
        self._log.close()
        return self._popen.returncode


_labs: list["Lab"] = []  # every Lab of this process, for main()'s report
_main_running = False


class Lab:
    """Owns the processes and services of one test; ends them all, by PID, on exit."""

    _count = 0
    _host_labs = 0  # labs of this process that made hosts, for unique namespace names

    def __init__(self, stop_timeout: float = 5.0):
        Lab._count += 1
        self.id = f"{os.getpid()}-{Lab._count}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"meshlab-{self.id}-"))
        self.stop_timeout = stop_timeout
        self.procs: list[Proc] = []
        self.jack_server: str | None = None
        self._saved_env: dict[str, str | None] = {}
        self._at_close: list[Callable[[], None]] = []
        _labs.append(self)
        # A JACK client must never start a server of its own: that one no Lab would end.
        self.setenv("JACK_NO_START_SERVER", "1")

    def __enter__(self) -> "Lab":
        _install_sigterm_handler()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
        failed = exc_type is not None and not issubclass(exc_type, Skip)
        if failed or _main_running or os.environ.get("MESHLAB_KEEP"):
            return  # main() reports and removes, or the logs are wanted
        self.remove_dir()

    def close(self) -> None:
        """End every process, newest first (nodes before jackd before D-Bus), and wait for each."""
        with _sigterm_deferred():
            for p in reversed(self.procs):
                try:
                    p.terminate(self.stop_timeout)
                except Exception as e:  # keep going: the others must end too
                    print(f"meshlab: ending {p.name} (pid {p.pid}): {e}", file=sys.stderr)
            while self._at_close:
                fn = self._at_close.pop()
                try:
                    fn()
                except Exception as e:
                    print(f"meshlab: cleanup {fn}: {e}", file=sys.stderr)
            for key, old in reversed(self._saved_env.items()):
                if old is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = old
            self._saved_env.clear()

    def at_close(self, fn: Callable[[], None]) -> None:
        """Call fn when the lab closes, after every process has ended (newest first)."""
        self._at_close.append(fn)

    def remove_dir(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def setenv(self, key: str, value: str) -> None:
        """Set an environment variable for this process and every child; undone on exit."""
        self._saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        """Start argv with output to <lab dir>/<name>.log; `env` adds to the environment."""
        log = self.dir / f"{name}.log"
        n = 1
        while log.exists():
            n += 1
            log = self.dir / f"{name}-{n}.log"
        full_env = dict(os.environ)
        full_env.update(env or {})
        p = Proc(name, argv, full_env, log)
        self.procs.append(p)
        return p

    def free_port(self) -> int:
        """A port P such that P and P+1 are both free on 127.0.0.1 now."""
        for _ in range(100):
            with socket.socket() as a:
                a.bind(("127.0.0.1", 0))
                port = a.getsockname()[1]
                if port >= 65535:
                    continue
                with socket.socket() as b:
                    try:
                        b.bind(("127.0.0.1", port + 1))
                    except OSError:
                        continue
                    return port
        fail("no two consecutive free TCP ports on 127.0.0.1")
        return 0  # not reached

    def start_jack(self, period: int = 512, synchronous: bool = True) -> Proc:
        """Start a JACK server of this lab's own on the dummy driver (no sound card needed).

        Its name goes to JACK_DEFAULT_SERVER, so RtMidi clients started later reach it.
        Period 512 at 48 kHz (10.7 ms): smaller periods lose MIDI in xruns without realtime.
        Synchronous (-S) by default: in async mode the dummy driver loses MIDI events in xruns
        whenever the machine is busy, and a count-exact test would fail for JACK's sake. A test
        that SIGKILLs a JACK client while others run asks for async mode: under -S that has made
        another client crash here.
        """
        if self.jack_server:
            fail(f"this lab already runs JACK server {self.jack_server}")
        for tool in ("jackd", "jack_wait"):
            if not shutil.which(tool):
                skip(f"{tool} is not installed (apt-get install jackd2)")
        if _isolate_jack() == "lock":
            # JACK socket names include the uid: only labs of the same user collide.
            lock_path = os.path.join(tempfile.gettempdir(), f"meshlab-jack-{os.getuid()}.lock")
            lock = open(lock_path, "a")
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the lab closes
            self.at_close(lock.close)
        name = f"mmtest-{self.id}"
        jackd = self.spawn("jackd", _jackd_argv(name, synchronous, period))
        _wait_jackd(jackd, name, lambda argv: subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=SERVICE_START + 10))
        self.jack_server = name
        self.setenv("JACK_DEFAULT_SERVER", name)
        return jackd

    def start_avahi(self) -> None:
        """Make mDNS work on loopback: a system D-Bus (if none answers) and an avahi-daemon
        restricted to `lo`, unless one already runs. Stops only what it started.

        Needs root. The daemon is system-wide (/run/avahi-daemon): tests that use it must not
        run in parallel (is_parallel: false in tests/meson.build).
        """
        for tool in ("avahi-daemon", "dbus-daemon", "dbus-send", "ip"):
            if not shutil.which(tool):
                skip(f"{tool} is not installed (tools/install-deps installs it)")
        if os.geteuid() != 0:
            skip("start_avahi needs root (system D-Bus, avahi-daemon, lo multicast)")
        # Loopback has no MULTICAST flag by default and avahi ignores it without. The flag is
        # left on afterwards: harmless, and another lab may be using it.
        subprocess.run(["ip", "link", "set", "lo", "multicast", "on"], check=True)
        self.setenv("AVAHI_COMPAT_NOWARN", "1")

        def bus_answers() -> bool:
            return subprocess.run(
                ["dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus", "/",
                 "org.freedesktop.DBus.GetId"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

        if not bus_answers():
            os.makedirs("/run/dbus", exist_ok=True)
            for stale in ("/run/dbus/pid", "/run/dbus/system_bus_socket"):
                Path(stale).unlink(missing_ok=True)
            bus = self.spawn("dbus-daemon", ["dbus-daemon", "--system", "--nofork", "--nopidfile"])
            # dbus-daemon leaves its socket behind; it is ours, so remove it once the bus ended.
            self.at_close(lambda: Path("/run/dbus/system_bus_socket").unlink(missing_ok=True))
            wait_until(lambda: bus_answers() or not bus.alive(), 10, "the system D-Bus")
            if not bus.alive():
                fail(f"dbus-daemon exited:\n{bus.tail()}")

        if subprocess.run(["avahi-daemon", "--check"], stderr=subprocess.DEVNULL).returncode == 0:
            return  # someone else's daemon: use it, never stop it
        os.makedirs("/run/avahi-daemon", exist_ok=True)
        conf = self.dir / "avahi-daemon.conf"
        conf.write_text(_AVAHI_CONF)
        avahi = self.spawn("avahi-daemon", _avahi_argv(conf))
        avahi.wait_for_line(r"Server startup complete", timeout=SERVICE_START)

    def hosts(self, n: int, prefix: str = "ml", daemons: bool = True,
              jack: bool = True, synchronous: bool = True) -> list["Host"]:
        """n "hosts" on one machine: network namespaces joined by a bridge, each with its own
        D-Bus, avahi-daemon (real multicast mDNS across the bridge) and JACK server.
        daemons=False: none of these (nodes joined with --connect, socket MIDI): on a shared
        machine three idle JACK servers are noise in a latency measurement. jack=False: D-Bus
        and avahi-daemon but no JACK server (zero-config nodes on socket MIDI). The JACK servers
        are synchronous (-S) unless synchronous=False, as in Lab.start_jack: an asynchronous one
        lost a note-off in its xruns beside meshbench (failover_test, ci34). A node SIGKILLed
        under -S may crash the other clients of its host's server: read no probe there after.

        Namespaces are named <prefix><unique>h1..hn, the bridge's <prefix><unique>-sw; host i
        has 10.250.0.(10+i)/24 on its eth0, whose other end <prefix><unique>v<i> (at most 15
        characters) sits on the bridge: Host.cut() sets that end down, heal() up. Each command
        run on a host gets a private mount namespace with the host's own /run/dbus,
        /run/avahi-daemon and /dev/shm (a tmpfs per host: JACK names client sockets after the
        client, not the server, so two hosts' "midimesh" clients would collide in one /dev/shm).
        Everything is deleted when the lab closes, after its processes ended, even on failure.
        Needs root; tests that use it must not run in parallel with start_avahi tests (they
        make `lo` multicast, harmless here, but keep them apart anyway: is_parallel false).
        """
        needed = ("ip", "avahi-daemon", "dbus-daemon", *(("jackd", "jack_wait") if jack else ())
                  ) if daemons else ("ip",)
        for tool in needed:
            if not shutil.which(tool):
                skip(f"{tool} is not installed (tools/install-deps installs it)")
        if os.geteuid() != 0:
            skip("lab.hosts needs root (network namespaces, mounts)")
        if _isolate_jack() != "private /dev/shm":
            skip("lab.hosts needs a private mount namespace (unshare failed)")
        Lab._host_labs += 1
        # Unique among labs of this machine: the pid (base 36) and a count within the process.
        tag = f"{prefix}{_base36(os.getpid())}{Lab._host_labs}"
        if len(f"{tag}v{n}") > 15:
            fail(f"host prefix {tag!r} too long: interface {tag}v{n} exceeds 15 characters")
        switch = f"{tag}-sw"
        made: list[str] = []

        def delete_namespaces() -> None:
            for ns in reversed(made):
                subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        self.at_close(delete_namespaces)

        def ip(*args: str) -> None:
            r = subprocess.run(["ip", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
            if r.returncode != 0:
                fail(f"ip {' '.join(args)}: {r.stdout.strip()}")

        existing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        if re.search(rf"^{re.escape(tag)}(h\d+|-sw)\b", existing, re.M):
            fail(f"network namespaces {tag}* already exist (a previous run's leftovers?)")
        ip("netns", "add", switch)
        made.append(switch)
        ip("-n", switch, "link", "add", "br0", "type", "bridge")
        ip("-n", switch, "link", "set", "br0", "up")
        ip("-n", switch, "link", "set", "lo", "up")
        hosts = []
        for i in range(1, n + 1):
            ns = f"{tag}h{i}"
            ip("netns", "add", ns)
            made.append(ns)
            veth = f"{tag}v{i}"
            ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", veth,
               "netns", switch)
            ip("-n", switch, "link", "set", veth, "master", "br0", "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"10.250.0.{10 + i}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            hosts.append(Host(self, ns, switch, veth, f"10.250.0.{10 + i}"))
        # Wait for every bridge port to forward (rather than a fixed sleep).
        def forwarding() -> bool:
            out = subprocess.run(["ip", "-n", switch, "-d", "-o", "link", "show", "master", "br0"],
                                 capture_output=True, text=True).stdout
            return out.count("state forwarding") == n
        wait_until(forwarding, 10, "the bridge ports to come up")
        if daemons:
            for h in hosts:
                h._start_daemons(jack, synchronous)
            for h in hosts:
                h._wait_daemons()
        return hosts

    def report(self) -> str:
        """The tail of every process log, for a failure report."""
        parts = []
        for p in self.procs:
            code = "running" if p.alive() else f"exit code {p.returncode}"
            parts.append(f"--- {p.name} (pid {p.pid}, {code}): {' '.join(p.argv)}\n{p.tail()}")
        return "\n".join(parts)


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        n, r = divmod(n, 36)
        text = digits[r] + text
        if not n:
            return text


class Host:
    """One host of Lab.hosts(): a network namespace with its own D-Bus, avahi-daemon and JACK
    server. `spawn` runs a command on it and returns a Proc, ended by PID when the lab closes."""

    def __init__(self, lab: Lab, ns: str, switch: str, veth: str, address: str):
        self.lab = lab
        self.name = ns
        self.address = address
        self._switch = switch
        self._veth = veth
        self.dir = lab.dir / ns
        for sub in ("run/dbus", "run/avahi-daemon", "shm"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        # The host's /dev/shm: a tmpfs in the test's private mount namespace, gone with it.
        if _libc.mount(b"tmpfs", str(self.dir / "shm").encode(), b"tmpfs", 0, b"mode=1777") != 0:
            fail(f"{ns}: cannot mount a tmpfs for its /dev/shm: "
                 f"{os.strerror(ctypes.get_errno())}")
        lab.at_close(self._unmount_shm)
        self.jack_server = f"{ns}-jack"
        self.env = {
            "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={self.dir}/run/dbus/system_bus_socket",
            "AVAHI_COMPAT_NOWARN": "1",
            "JACK_DEFAULT_SERVER": self.jack_server,
            "JACK_NO_START_SERVER": "1",
        }
        self._daemons: list[Proc] = []

    def __repr__(self) -> str:
        return f"<Host {self.name} {self.address}>"

    @property
    def cable(self) -> tuple[str, str]:
        """Where the host's cable plugs in: the switch's namespace and its port (interface)."""
        return self._switch, self._veth

    def _unmount_shm(self) -> None:
        _libc.umount2(str(self.dir / "shm").encode(), 2)  # MNT_DETACH

    def wrap(self, argv: list[str]) -> list[str]:
        """argv run on this host: in its network namespace, with its own /run/dbus,
        /run/avahi-daemon and /dev/shm. `ip netns exec` gives the command a mount namespace of
        its own (slave of ours), so the binds stay there; everything execs, so the PID is the
        command's and ending it by PID ends it."""
        d = self.dir
        script = (f"mount --bind {d}/run/dbus /run/dbus && "
                  f"mount --bind {d}/run/avahi-daemon /run/avahi-daemon && "
                  f"mount --bind {d}/shm /dev/shm && exec \"$@\"")
        return ["ip", "netns", "exec", self.name, "sh", "-c", script, "sh", *map(str, argv)]

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        """Start argv on this host (log: <lab dir>/<name>.log); `env` adds to the environment."""
        return self.lab.spawn(name, self.wrap(argv), {**self.env, **(env or {})})

    def run(self, argv: list[str], timeout: float = 15) -> subprocess.CompletedProcess:
        """Run argv on this host to completion; stdout and stderr together in .stdout."""
        return subprocess.run(self.wrap(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout, env={**os.environ, **self.env})

    def cut(self) -> None:
        """Unplug the host's cable at the switch: nothing it sends arrives, not even a goodbye."""
        subprocess.run(["ip", "-n", self._switch, "link", "set", self._veth, "down"], check=True)

    def heal(self) -> None:
        subprocess.run(["ip", "-n", self._switch, "link", "set", self._veth, "up"], check=True)

    def _start_daemons(self, jack: bool, synchronous: bool) -> None:
        # The system bus exactly as the system's (same config), on this host's /run/dbus.
        bus = self.spawn(f"{self.name}-dbus", ["dbus-daemon", "--system", "--nofork",
                                               "--nopidfile"])
        conf = self.dir / "avahi-daemon.conf"
        conf.write_text(_AVAHI_CONF.replace("host-name=midimesh-lab", f"host-name={self.name}")
                        .replace("allow-interfaces=lo", "allow-interfaces=eth0"))
        self._daemons = [bus]
        if jack:
            self._daemons.append(self.spawn(f"{self.name}-jackd",
                                            _jackd_argv(self.jack_server, synchronous)))

    def _wait_daemons(self) -> None:
        bus, *jack = self._daemons
        sock = self.dir / "run/dbus/system_bus_socket"
        wait_until(lambda: sock.exists() or not bus.alive(), SERVICE_START, f"{self.name}'s D-Bus")
        if not bus.alive():
            fail(f"{self.name}: dbus-daemon exited:\n{bus.tail()}")
        avahi = self.spawn(f"{self.name}-avahi", _avahi_argv(self.dir / "avahi-daemon.conf"))
        for jackd in jack:
            _wait_jackd(jackd, self.jack_server,
                        lambda argv: self.run(argv, timeout=SERVICE_START + 10))
        avahi.wait_for_line(r"Server startup complete", timeout=SERVICE_START)
        self._daemons.append(avahi)


def _jackd_argv(server: str, synchronous: bool, period: int = 512) -> list[str]:
    # The dummy driver: no sound card needed. Lab.start_jack says why these settings.
    return ["jackd", "--no-realtime", "-n", server, *(["-S"] if synchronous else []),
            "-d", "dummy", "-r", "48000", "-p", str(period)]


def _wait_jackd(jackd: Proc, server: str,
                run: Callable[[list[str]], subprocess.CompletedProcess]) -> None:
    """Until JACK server `server` (process `jackd`) takes clients; `run` runs jack_wait where
    the server is (this machine, or a Lab host) with stdout and stderr together."""
    ready = run(["jack_wait", "-s", server, "-w", "-t", str(int(SERVICE_START))])
    if ready.returncode != 0 or not jackd.alive():
        fail(f"jackd {server} did not start: {ready.stdout.strip()}\njackd log:\n{jackd.tail()}")


def _avahi_argv(conf: Path) -> list[str]:
    # Foreground, not --daemonize: it stays our child, ended by PID with the lab.
    return ["avahi-daemon", "-f", str(conf), "--no-drop-root", "--no-chroot", "--no-rlimits"]


# Never the default configuration: it would publish on eth0 and query wide-area DNS.
_AVAHI_CONF = """\
[server]
host-name=midimesh-lab
use-ipv4=yes
use-ipv6=no
allow-interfaces=lo
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
[reflector]
enable-reflector=no
[rlimits]
"""


def _raise_autogroup() -> None:
    """Give this test's session the niceness -20 too.

    With autogroups (Linux's default for desktops and this CI machine) niceness orders
    processes only within their session; sessions share the CPU equally whatever their
    processes' niceness. Measured: two loops at -20 got half the machine beside two at 19 in
    another session (3.6 of 7.7 CPU-seconds). meson starts every test in a session of its own,
    so this touches no one else's; a test started from a shell leaves the shell's alone.
    """
    if os.getsid(0) != os.getpid():
        return
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write("-20")
    except OSError:
        pass  # a kernel without autogroups: niceness alone orders the CPU


def run_realtime(priority: int = 10) -> None:
    """Run this test, and every process it starts from now on, round-robin real-time.

    For a test whose bound is tighter than the machine's scheduling: beside meshbench, at
    niceness -20 in its own session, a loss-free 1,000/s stream between two nodes took up to
    94 ms per message, and lossy_link_test's players lost half their 1 ms slots (3 of 6 runs
    over its 50 ms bound, the worst 1,044 ms); round-robin, 6 of 6 within 13 ms. Audio
    software runs real-time on a musician's laptop for the same reason. Bounded tests only:
    a real-time process that spun would leave the rest of the machine 5 % of the CPU.
    """
    if os.geteuid() != 0:
        skip("real-time scheduling needs root")
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(priority))
    except OSError as e:
        fail(f"cannot run round-robin real-time ({e}): this test's timing would judge the "
             f"machine's scheduler, not midimesh")


def main(test_fn: Callable[[], None]) -> None:
    """Run test_fn and exit as meson expects: 0 pass, 1 fail, 77 skip.

    On failure print the traceback and the last lines of every process log; logs are kept
    (their directory is printed). Set MESHLAB_KEEP=1 to keep them after a pass too.
    """
    global _main_running
    _main_running = True
    _install_sigterm_handler()
    # The tests judge midimesh's timing (delays, settle times); on a busy machine the other
    # work (compiles, a benchmark) must not pass for a stall of the mesh, as audio software
    # runs ahead of it on a musician's laptop. Every process a test starts inherits this.
    # -20, not -10: beside meshbench's dozens of busy threads, -10 left a test's processes half
    # a core each (honest messages 857 ms late). Its session must rise too (_raise_autogroup).
    if os.geteuid() == 0 and os.nice(0) == 0:
        os.nice(-20)
        _raise_autogroup()
    code = 1
    why = ""
    try:
        test_fn()
        code = 0
    except Skip:
        code = SKIP_CODE  # skip() printed the reason
    except Terminated:
        why = "FAIL: terminated by SIGTERM (meson timeout?)"
    except Failure as e:
        traceback.print_exc(file=sys.stdout)  # one stream: meson shows it in order
        why = f"FAIL: {e}"
    except BaseException:  # noqa: B036 - any error, KeyboardInterrupt too, is a failed test
        traceback.print_exc(file=sys.stdout)  # one stream: meson shows it in order
        why = "FAIL: unexpected exception"
    finally:
        for lab in _labs:
            lab.close()  # a Lab used without `with` still ends its processes
    if why:
        print(why, flush=True)
    if code == 1:
        for lab in _labs:
            if lab.procs:
                print(f"=== logs of lab {lab.id}, kept in {lab.dir}:\n{lab.report()}")
        # Again at the end: meson shows only a long log's last 100 lines.
        print(why, flush=True)
    elif not os.environ.get("MESHLAB_KEEP"):
        for lab in _labs:
            lab.remove_dir()
    sys.stdout.flush()
    sys.exit(code)



# --- midimesh processes ------------------------------------------------------------------------

def start_hub(lab: Lab, name: str = "hub", extra: list[str] | tuple[str, ...] = ()) -> tuple[Proc, int]:
    """A `midimesh --hub` on 127.0.0.1 at a free base port; returns it and the port."""
    port = lab.free_port()
    hub = lab.spawn(name, [midimesh(), "--hub", "--bind", "127.0.0.1", "--port", str(port),
                           "--name", name, *extra])
    hub.wait_for_line(r"hub: forwarding")
    return hub, port


def start_node(lab: Lab, name: str, port: int,
               extra: list[str] | tuple[str, ...] = ()) -> Proc:
    """A `midimesh --connect` to the hub at `port`, once it has heard the hub."""
    node = lab.spawn(name, [midimesh(), "--connect", f"127.0.0.1:{port}", "--name", name, *extra])
    node.wait_for_line(r"joined the mesh through hub")
    return node


def stats(proc: Proc, component: str = "node", timeout: float = 10.0) -> dict[str, int]:
    """The counters `component` logs: asks a running process (SIGUSR1), or reads the line
    written at shutdown if it has exited."""
    pattern = rf" {component}: stats: (.*)$"
    if proc.alive():
        os.kill(proc.pid, signal.SIGUSR1)
        line = proc.wait_for_line(pattern, timeout).group(1)
    else:
        found = [m.group(1) for l in proc.lines() if (m := re.search(pattern, l))]
        if not found:
            fail(f"{proc.name} exited without a {component} stats line:\n{proc.tail()}")
        line = found[-1]
    return {k: int(v) for k, v in (kv.split("=") for kv in line.split())}


def start_jack_mesh(lab: Lab, names: list[str],
                    extra: list[str] | tuple[str, ...] = (),
                    synchronous: bool = True) -> tuple[Proc, int, dict[str, Proc]]:
    """A JACK server, a headless hub, and one node per name with virtual JACK ports
    `<name>-in:in` and `<name>-out:out`, each known to the hub before this returns.
    synchronous=False for a test that SIGKILLs nodes (see Lab.start_jack)."""
    lab.start_jack(synchronous=synchronous)
    hub, port = start_hub(lab, extra=["--no-midi"])
    nodes = {name: start_jack_node(lab, hub, name, port, extra) for name in names}
    return hub, port, nodes


def start_jack_node(lab: Lab, hub: Proc, name: str, port: int,
                    extra: list[str] | tuple[str, ...] = ()) -> Proc:
    node = start_node(lab, name, port, ["--midi-api", "jack", "--port-name", name, *extra])
    wait_jack_client(node)
    _wait_known_to_hub(hub, name, node)
    return node


def wait_jack_client(node: Proc) -> None:
    """Until `node` (started with --midi-api jack) has opened its JACK client. On a busy
    machine that has taken seconds: the deadline is a service's, not a message's."""
    node.wait_for_line(r"midi: JACK", SERVICE_START, from_start=True)


def start_socket_node(lab: Lab, hub: Proc, name: str, port: int, path: str) -> Proc:
    """A node on the socket MIDI backend (socket_midi.py: input `<path>-in`, output
    `<path>-out`), known to the hub before this returns. For a node a test SIGKILLs: a JACK
    client killed under a synchronous server has crashed other clients, and an asynchronous
    server loses events in its xruns on a busy machine."""
    node = start_node(lab, name, port, ["--midi-api", "socket", "--port-name", path])
    _wait_known_to_hub(hub, name, node)
    return node


def _wait_known_to_hub(hub: Proc, name: str, node: Proc) -> None:
    # The hub's own node heard this node's hello: what it sends reaches the hub.
    hub.wait_for_line(rf'peer "{name}" \({node_id(node)}\) joined', from_start=True)


def node_id(node: Proc) -> str:
    return node.wait_for_line(r'node "[^"]*" id ([0-9a-f]{16})', from_start=True).group(1)


# What a node's log says about its place in the mesh, in order: its last such line is its role now.
_ROLE_LINES = [
    ("hub", re.compile(r"this node is now the hub|joined the mesh as its hub")),
    ("follow", re.compile(r"joined the mesh through hub .*\(([0-9a-f]{16})\)")),
    ("connecting", re.compile(r"connecting to hub ([0-9a-f]{16})")),
    ("electing", re.compile(r"hub .* silent for \d+ ms: electing another")),
]


def role(node: Proc) -> tuple[str, str | None]:
    """A zero-config node's role by its log: ("hub", None), ("follow", hub id) once joined,
    ("connecting", hub id), ("electing", None) after its hub went silent, or ("none", None)."""
    # Only the lines written since the last call are read: tools/chaos asks every node many
    # times a second for minutes.
    node._refresh()
    state, seen = node._role
    for line in node._lines[seen:]:
        for name, pattern in _ROLE_LINES:
            if m := pattern.search(line):
                state = (name, m.group(1) if m.groups() else None)
    node._role = (state, len(node._lines))
    return state


def one_hub(nodes: dict[str, Proc]) -> str | None:
    """The name of the hub if exactly one of `nodes` (name -> Proc) is hub and every other
    follows it (joined through it), else None."""
    roles = {name: role(p) for name, p in nodes.items()}
    hubs = [name for name, r in roles.items() if r[0] == "hub"]
    if len(hubs) != 1:
        return None
    # node_id() would move the log cursor of wait_for_line: read the lines instead.
    hub_id = next((m.group(1) for line in nodes[hubs[0]].lines()
                   if (m := re.search(r'node "[^"]*" id ([0-9a-f]{16})', line))), None)
    if all(r == ("follow", hub_id) for name, r in roles.items() if name != hubs[0]):
        return hubs[0]
    return None
