#!/usr/bin/env python3
"""The command line says what it does and fails clearly (src/cli/options.cpp, src/main.cpp).

Proves that:
* `--help` exits 0 and mentions every option; `--version` prints "midimesh X.Y.Z";
* a bad `--connect` value, and `--connect` together with `--hub`, are refused with a message
  naming the option and a non-zero exit;
* `--list-ports` with no MIDI backend (no ALSA sequencer here, no JACK server under the name in
  JACK_DEFAULT_SERVER) exits non-zero with one line naming what is missing and suggesting
  --no-midi; with a JACK server it exits 0 and lists the ports another midimesh created;
* a second hub on a port in use exits 1 with one error line naming the port and suggesting
  --port, and no crash output;
* a node with no MIDI backend logs one "no MIDI ports" error, still joins the mesh and receives
  MIDI from it, and exits 0 on SIGTERM;
* a second SIGTERM while the node is leaving (a second Ctrl-C) does not cut the leaving short:
  exit 0, and the stats line written after the held notes are released.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import meshlab
from meshlab import Lab, Proc, fail, midimesh, start_hub, stats, wait_until
from wireclient import WireClient

OPTIONS = ["--hub", "--connect", "--connections", "--port", "--bind", "--name", "--midi-api",
           "--midi-in", "--midi-out", "--port-name", "--no-midi", "--list-ports", "--log-level",
           "--help", "--version", "--sender-budget"]
CRASH = re.compile(r"Traceback|terminate called|what\(\)|Aborted|Segmentation|core dumped")
ALSA_SEQ = "/dev/snd/seq"


def run(lab: Lab, name: str, args: list[str], timeout: float = 10.0) -> tuple[int, list[str]]:
    """Run midimesh with `args` to completion; its exit code and its output lines (stdout and
    stderr together), with no empty lines."""
    proc = lab.spawn(name, [midimesh(), *args])
    code = proc.wait(timeout)
    return code, [l for l in proc.lines() if l.strip()]


def show(lines: list[str]) -> str:
    return "\n".join(lines) if lines else "(no output)"


def expect_no_crash(what: str, lines: list[str]) -> None:
    if any(CRASH.search(l) for l in lines):
        fail(f"{what} printed crash output:\n{show(lines)}")


def check_help_and_version(lab: Lab) -> None:
    code, lines = run(lab, "help", ["--help"])
    text = "\n".join(lines)
    if code != 0:
        fail(f"--help exited {code}:\n{text}")
    missing = [o for o in OPTIONS if not re.search(rf"{re.escape(o)}\b", text)]
    if missing:
        fail(f"--help does not mention {missing}:\n{text}")

    code, lines = run(lab, "version", ["--version"])
    # Built from a git checkout, it names the commit too.
    source = Path(__file__).resolve().parents[2]
    from_git = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"],
                              capture_output=True).returncode == 0
    revision = r" \(git [0-9a-f]{10}(-dirty)?\)" if from_git else ""
    if code != 0 or len(lines) != 1 or not re.fullmatch(
            rf"midimesh \d+\.\d+\.\d+{revision}", lines[0]):
        fail(f"--version exited {code} and printed (want one line 'midimesh X.Y.Z (git REV)'):"
             f"\n{show(lines)}")


def check_refused(lab: Lab, name: str, args: list[str], must_name: list[str]) -> None:
    """midimesh `args` must exit non-zero at once, with output naming each of `must_name`."""
    code, lines = run(lab, name, args)
    text = "\n".join(lines)
    if code == 0:
        fail(f"midimesh {' '.join(args)} was accepted (exit 0):\n{show(lines)}")
    unnamed = [w for w in must_name if w not in text]
    if unnamed or len(lines) > 3:
        fail(f"midimesh {' '.join(args)} (exit {code}) should say briefly what is wrong, "
             f"naming {must_name}:\n{show(lines)}")
    expect_no_crash(f"midimesh {' '.join(args)}", lines)


def check_list_ports_without_backend(lab: Lab) -> None:
    if os.path.exists(ALSA_SEQ):
        meshlab.skip(f"{ALSA_SEQ} exists: this test needs a machine without an ALSA sequencer")
    code, lines = run(lab, "list-ports-none", ["--list-ports"])
    if code == 0 or len(lines) != 1:
        fail(f"--list-ports with no backend exited {code}; want non-zero and one line:\n"
             f"{show(lines)}")
    line = lines[0]
    for what, pattern in [("the missing ALSA sequencer", r"ALSA.*(sequencer|/dev/snd/seq)"),
                          ("the missing JACK server", r"JACK.*no JACK server"),
                          ("the --no-midi way out", r"--no-midi")]:
        if not re.search(pattern, line):
            fail(f"--list-ports with no backend does not name {what}:\n{line}")


def check_port_in_use(lab: Lab) -> None:
    _hub, port = start_hub(lab, "first-hub", extra=["--no-midi"])
    code, lines = run(lab, "second-hub", ["--hub", "--bind", "127.0.0.1", "--port", str(port),
                                          "--no-midi"])
    errors = [l for l in lines if re.search(r"\berror\b", l)]
    if code != 1:
        fail(f"a second hub on port {port} exited {code}, want 1:\n{show(lines)}")
    if len(errors) != 1 or str(port) not in errors[0] or "--port" not in errors[0]:
        fail(f"a second hub on port {port} should log one error line naming the port and "
             f"suggesting --port:\n{show(lines)}")
    expect_no_crash("a second hub on a port in use", lines)


def check_node_without_midi(lab: Lab) -> None:
    """No ALSA, no JACK: the node says so once and still works as a relay."""
    hub, port = start_hub(lab, "relay-hub", extra=["--no-midi"])
    node = lab.spawn("midiless", [midimesh(), "--connect", f"127.0.0.1:{port}",
                                  "--name", "midiless"])
    node.wait_for_line(r"joined the mesh through hub")
    player = WireClient("127.0.0.1", port, "player")
    lab.at_close(player.close)
    player.join()
    player.send_midi(b"\x90\x3c\x64")
    wait_until(lambda: stats(node)["midi_received"] == 1, 10,
               "the node without MIDI ports to receive the player's note-on")
    complaints = [l for l in node.lines() if "no MIDI ports" in l]
    if len(complaints) != 1 or " error " not in f" {complaints[0]} ":
        fail(f"want exactly one error line 'no MIDI ports', got:\n{show(complaints)}")
    if not hub.alive():
        fail("the hub died")
    code = node.terminate()
    if code != 0:
        fail(f"the node without MIDI ports exited {code} on SIGTERM:\n{node.tail()}")


def check_second_signal(lab: Lab) -> None:
    """Its proxy idle (no hub yet: the 1.5 s election grace), a node waits up to 50 ms at
    shutdown for its goodbye to pass through it; a signal then used to abort the shutdown, and
    one after it, while the goodbye lingered out, killed the node (a CI run beside meshbench)."""
    node = lab.spawn("twice", [midimesh(), "--no-midi", "--bind", "127.0.0.1", "--port",
                               str(lab.free_port()), "--mesh", f"cli-twice-{lab.id}",
                               "--name", "twice"])
    node.wait_for_line(r"hub: forwarding")
    os.kill(node.pid, signal.SIGTERM)
    # The second as soon as it is leaving: during that wait, or later in its teardown (while
    # its goodbye lingers out); wherever it lands, the node must go on leaving and exit 0.
    node.wait_for_line(r"node: shutting down")
    if node.alive():
        os.kill(node.pid, signal.SIGTERM)
    code = node.wait(10)
    lines = node.lines()
    if code != 0 or not any("node: stats:" in l for l in lines):
        fail(f"a node given SIGTERM twice exited {code} (want 0, after its stats line):\n"
             f"{show(lines)}")
    expect_no_crash("a second SIGTERM", lines)


def check_list_ports_with_jack(lab: Lab) -> None:
    lab.start_jack()
    lister = lab.spawn("listme-hub", [midimesh(), "--hub", "--bind", "127.0.0.1",
                                      "--port", str(lab.free_port()), "--port-name", "listme"])
    lister.wait_for_line(r"midi: .*JACK")
    code, lines = run(lab, "list-ports-jack", ["--list-ports"])
    if code != 0:
        fail(f"--list-ports with a JACK server exited {code}:\n{show(lines)}")
    if not any("listme-in:in" in l for l in lines):
        fail(f"--list-ports does not list the port listme-in:in that a midimesh created:\n"
             f"{show(lines)}")
    expect_no_crash("--list-ports", lines)


def test() -> None:
    with Lab() as lab:
        # No JACK server answers to this name (and the Lab forbids starting one).
        lab.setenv("JACK_DEFAULT_SERVER", f"mmtest-nobody-{lab.id}")
        check_help_and_version(lab)
        check_refused(lab, "bad-connect", ["--connect", "host:port:extra"],
                      ["--connect", "host:port:extra"])
        check_refused(lab, "bad-connect-port", ["--connect", "127.0.0.1:70000"],
                      ["--connect", "127.0.0.1:70000"])
        for budget in ("5000", "0,256", "5000,x", "-1,256"):
            check_refused(lab, f"bad-budget-{budget}", ["--sender-budget", budget],
                          ["--sender-budget", budget])
        check_refused(lab, "hub-and-connect", ["--hub", "--connect", "127.0.0.1:8141"],
                      ["--hub", "--connect"])
        check_list_ports_without_backend(lab)
        check_port_in_use(lab)
        check_node_without_midi(lab)
        check_second_signal(lab)
        check_list_ports_with_jack(lab)  # last: it starts the JACK server


meshlab.main(test)
