#!/usr/bin/env python3
"""midimesh for Windows (built by tools/cross-build windows) under Wine, beside Linux nodes on
127.0.0.1: `--version`; `--list-ports` says that no MIDI device exists; a Windows hub forwards
MIDI between two Linux nodes bit-exact and in order (the Linux nodes play through the socket MIDI
backend); a Windows node joins a secured Linux hub with --connect (keys from the passphrase by
libsodium, CURVE by libzmq, both built for Windows), meshtop (Linux) sees it, and on Ctrl-C it
leaves with a goodbye (Wine turns SIGINT into the console's CTRL_C_EVENT).

The Wine prefix is new in the lab's directory, so the test needs nothing from earlier runs; its
wineserver and the services Wine starts in it are ended with `wineserver -k` for that prefix.
Without a Windows build or Wine this test skips, and under CI (CI set) it fails instead."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import meshlab
from meshlab import Lab, fail, skip, start_hub, start_node
from socket_midi import Reader, writer

WINE = "/usr/lib/wine/wine64"  # Debian's wine64: the loader becomes the Windows process (one PID)
WINESERVER = "/usr/lib/wine/wineserver64"
MESSAGES = [bytes.fromhex(h) for h in ["903c64", "b0077f", "c905", "f8", "e00040", "803c00"]]
SYSEX = bytes([0xF0] + [i & 0x7F for i in range(16 * 1024 - 2)] + [0xF7])
SECRET = "wine test passphrase"
NOTES = 500  # numbered note-ons after the mixed messages: order and completeness under load


def windows_build() -> tuple[Path, Path]:
    default = Path(__file__).resolve().parents[2] / "build-windows"
    build = Path(os.environ.get("MIDIMESH_WINDOWS_BUILD", default))
    midimesh, meshtop = build / "src" / "midimesh.exe", build / "tools" / "meshtop" / "meshtop.exe"
    missing = [str(p) for p in (midimesh, meshtop) if not p.is_file()]
    if not os.access(WINE, os.X_OK):
        missing.append(f"{WINE} (apt-get install wine64)")
    if missing:
        reason = f"no {', '.join(missing)}: run tools/cross-build windows"
        if os.environ.get("CI"):
            fail(f"{reason} (under CI the Windows build must be there)")
        skip(reason)
    return midimesh, meshtop


def run_windows(lab: Lab, name: str, argv: list[str], timeout: float) -> list[str]:
    """Runs a Windows program to its end; returns its output lines."""
    proc = lab.spawn(name, [WINE, *argv])
    code = proc.wait(timeout)
    if code != 0:
        fail(f"{name} exited with {code}:\n{proc.tail()}")
    return proc.lines()


def test() -> None:
    midimesh_exe, meshtop_exe = windows_build()
    os.environ.pop("MIDIMESH_SECRET", None)  # the Windows hub's mesh is an open one
    with Lab() as lab:
        lab.setenv("WINEPREFIX", str(lab.dir / "wineprefix"))
        lab.setenv("WINEDEBUG", "-all")
        lab.setenv("WINEDLLOVERRIDES", "mscoree,mshtml=")  # no Mono or Gecko installer prompts
        lab.at_close(lambda: subprocess.run([WINESERVER, "-k"], timeout=30, check=False))
        began = time.monotonic()
        boot = lab.spawn("wineboot", [WINE, "wineboot", "--init"])
        if boot.wait(240) != 0:
            fail(f"wineboot failed:\n{boot.tail()}")
        print(f"wine prefix ready in {time.monotonic() - began:.1f} s", flush=True)

        version = run_windows(lab, "version", [str(midimesh_exe), "--version"], 60)
        if not any(re.match(r"midimesh \d+\.\d+\.\d+", line) for line in version):
            fail(f"midimesh.exe --version printed {version}")
        meshtop_version = run_windows(lab, "meshtop-version", [str(meshtop_exe), "--version"], 60)
        if not any(re.match(r"meshtop \d+\.\d+\.\d+", line) for line in meshtop_version):
            fail(f"meshtop.exe --version printed {meshtop_version}")
        print(f"Windows: {version[0].strip()}", flush=True)

        # Wine has no MIDI device here (no ALSA sequencer behind its WinMM driver).
        lister = lab.spawn("list-ports", [WINE, str(midimesh_exe), "--list-ports"])
        lister.wait(60)
        listing = lister.lines()
        if not any("no MIDI device" in line for line in listing):
            fail(f"--list-ports does not say that no MIDI device exists:\n{lister.tail()}")
        print("list-ports: " + next(l for l in listing if "no MIDI device" in l).strip(), flush=True)

        hub_between_linux_nodes(lab, midimesh_exe)
        windows_node_in_linux_hub(lab, midimesh_exe)
        print(f"all Wine scenarios in {time.monotonic() - began:.1f} s", flush=True)


def hub_between_linux_nodes(lab: Lab, midimesh_exe: Path) -> None:
    port = lab.free_port()
    hub = lab.spawn("windows-hub", [WINE, str(midimesh_exe), "--hub", "--no-midi", "--bind",
                                    "127.0.0.1", "--port", str(port), "--name", "windows-hub"])
    hub.wait_for_line(r"hub: forwarding", 60)
    paths = {n: str(lab.dir / n) for n in ("a", "b")}
    outputs = {name: Reader(f"{path}-out") for name, path in paths.items()}
    lab.at_close(lambda: [r.close() for r in outputs.values()])
    for name, path in paths.items():
        start_node(lab, name, port, ["--midi-api", "socket", "--port-name", path])
        hub.wait_for_line(rf'peer "{name}" \(\w+\) joined', 30, from_start=True)
    inject = writer(f"{paths['a']}-in")
    lab.at_close(inject.close)

    notes = [bytes([0x90, n % 128, 1 + n // 128]) for n in range(NOTES)]
    sent = MESSAGES + [SYSEX] + notes
    for message in sent:
        inject.send(message)
    got = []
    while len(got) < len(sent) and (m := outputs["b"].recv(15)) is not None:
        got.append(m)
    if got != sent:
        first = next((i for i, (g, s) in enumerate(zip(got, sent)) if g != s),
                     min(len(got), len(sent)))
        fail(f"node b played {len(got)} of {len(sent)} messages through the Windows hub; "
             f"the first difference at #{first}")
    marker = bytes.fromhex("fa")
    from_b = writer(f"{paths['b']}-in")
    lab.at_close(from_b.close)
    from_b.send(marker)
    if outputs["a"].recv(15) != marker:
        fail("node a played its own message, or not b's marker, through the Windows hub")
    print(f"Windows hub: {len(sent)} messages (a {len(SYSEX)}-byte SysEx among them) from a "
          "Linux node to another, bit-exact and in order; none back to the sender", flush=True)


def windows_node_in_linux_hub(lab: Lab, midimesh_exe: Path) -> None:
    # Every process from here on, Windows ones too (Wine passes the environment on), is secured.
    lab.setenv("MIDIMESH_SECRET", SECRET)
    hub, port = start_hub(lab, "linux-hub", extra=["--no-midi"])
    node = lab.spawn("windows-node", [WINE, str(midimesh_exe), "--connect", f"127.0.0.1:{port}",
                                      "--no-midi", "--name", "windows-node"])
    node.wait_for_line(r'mesh "default" is secured', 60)
    node.wait_for_line(r"joined the mesh through hub", 60)
    hub.wait_for_line(r'peer "windows-node" \(\w+\) joined', 30)

    meshtop = lab.spawn("meshtop", [meshlab.binary("MESHTOP"), "--once", "--json", "--wait", "20",
                                    "--connect", f"127.0.0.1:{port}"])
    if meshtop.wait(40) != 0:
        fail(f"meshtop --once --json failed:\n{meshtop.tail()}")
    objects = [json.loads(l) for l in meshtop.lines() if l.startswith("{")]
    if not objects:
        fail(f"meshtop printed no JSON:\n{meshtop.tail()}")
    seen = {n["name"]: n for n in objects[-1]["nodes"]}
    if "windows-node" not in seen or not seen["windows-node"]["program"].startswith("midimesh "):
        fail(f"meshtop does not show the Windows node: {sorted(seen)}")
    print(f"secured mesh: meshtop sees windows-node (role {seen['windows-node']['role']}, "
          f"{seen['windows-node']['program']}) beside {sorted(set(seen) - {'windows-node'})}",
          flush=True)

    # Wine delivers SIGINT to a console program as CTRL_C_EVENT, as Ctrl-C in cmd.exe would.
    os.kill(node.pid, signal.SIGINT)
    hub.wait_for_line(r'peer "windows-node" \(\w+\) left \(shutting down\)', 30)
    node.wait_for_line(r"shutting down: saying goodbye", 5, from_start=True)
    code = node.wait(30)
    if code != 0:
        fail(f"the Windows node exited with {code} after Ctrl-C:\n{node.tail()}")
    print("Ctrl-C: the Windows node said goodbye (the Linux hub logged it leaving) and exited 0",
          flush=True)


meshlab.main(test)
