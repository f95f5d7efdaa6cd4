#!/usr/bin/env python3
"""What `meson install` and a packager get (issue 11): both man pages list exactly the options
--help lists, and render without warnings; the example config names every option; the install
list has the man pages, both systemd units and the example config, and no test or benchmark
tool; both units pass `systemd-analyze verify`; options are read from --config and from
~/.config/midimesh/midimesh.conf, a misspelt key or a missing file is a usage error; under
systemd (JOURNAL_STREAM naming its stderr) log lines carry syslog priorities, no timestamp."""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import meshlab
from meshlab import Lab, fail, midimesh

SOURCE = Path(__file__).resolve().parents[2]
# Options that only make sense on a command line, not in an options file.
COMMAND_LINE_ONLY = {"help", "version", "config", "list-ports"}


def help_options(program: str) -> set[str]:
    out = subprocess.run([program, "--help"], capture_output=True, text=True, check=True).stdout
    return {m.group(1) for line in out.splitlines() if line.startswith("  ")
            for m in [re.match(r"\s+(?:-\w,)?--([a-z][a-z0-9-]*)", line)] if m}


def man_options(page: Path) -> set[str]:
    text = page.read_text().replace("\\-", "-")
    return set(re.findall(r"^\.B[IR]? --([a-z][a-z0-9-]*)", text, re.M)) | \
        set(re.findall(r"^\.BR -h \", \" --(help)", text, re.M))


def man_page_agrees(program: str, page: Path) -> None:
    in_help, in_man = help_options(program), man_options(page)
    if not in_help or in_help != in_man:
        fail(f"{page.name}: --help has {sorted(in_help - in_man)} that the page lacks, the page "
             f"has {sorted(in_man - in_help)} that --help lacks")
    render = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True,
                            text=True, env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat"})
    if render.returncode != 0 or render.stderr.strip():
        fail(f"{page.name} does not render cleanly: {render.stderr}")
    print(f"{page.name}: the {len(in_help)} options of --help, rendered without warnings")


def installed() -> None:
    listing = subprocess.run(["meson", "introspect", "--installed", os.environ["BUILD_ROOT"]],
                             capture_output=True, text=True, check=True).stdout
    targets = set(json.loads(listing).values())
    wanted = ["share/man/man1/midimesh.1", "share/man/man1/meshtop.1",
              "lib/systemd/user/midimesh.service", "lib/systemd/system/midimesh-hub.service",
              "share/doc/midimesh/midimesh.conf.example", "bin/midimesh", "bin/meshtop"]
    missing = [w for w in wanted if not any(t.endswith("/" + w) for t in targets)]
    if missing:
        fail(f"meson install lacks {missing}: {sorted(targets)}")
    extra = [t for t in targets if re.search(r"meshbench|midiprobe|unit_tests|meshfind", t)]
    if extra:
        fail(f"meson install would install test or benchmark tools: {extra}")
    print(f"meson install: {len(targets)} files, man pages, units and example config among them")


def units() -> None:
    runtime = Path(tempfile.mkdtemp(prefix="install-test-"))  # the user manager's runtime dir
    try:
        for unit, user in ((os.environ["HUB_UNIT"], False), (os.environ["USER_UNIT"], True)):
            argv = ["systemd-analyze", *(["--user"] if user else []), "verify", "--man=no", unit]
            run = subprocess.run(argv, capture_output=True, text=True,
                                 env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)})
            if run.returncode != 0 or run.stderr.strip():
                fail(f"systemd-analyze verify {Path(unit).name}: {run.stderr}")
            print(f"systemd-analyze verify {Path(unit).name}: clean")
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def example_config() -> None:
    text = (SOURCE / "src/cli/midimesh.conf").read_text()
    named = set(re.findall(r"^# ([a-z][a-z0-9-]*) = ", text, re.M))
    wanted = help_options(midimesh()) - COMMAND_LINE_ONLY
    if named != wanted:
        fail(f"the example config lacks {sorted(wanted - named)}, has {sorted(named - wanted)}")
    print(f"the example config names all {len(wanted)} options")


def config_files(lab: Lab) -> None:
    port = lab.free_port()
    conf = lab.dir / "stage.conf"
    conf.write_text(f'mesh = "install{os.getpid()}"\nname = "from-config"\nport = {port}\n'
                    'hub = true\nno-midi = true\nno-rtp-midi = true\n'
                    'bind = "127.0.0.1"\n')
    node = lab.spawn("from-config", [midimesh(), "--config", str(conf)])
    node.wait_for_line(r'node "from-config" id')
    # ZeroMQ names an IPv4 address bound on a dual-stack socket [::ffff:127.0.0.1].
    node.wait_for_line(rf"nodes publish to tcp://\S*127\.0\.0\.1\]?:{port} ", from_start=True)
    node.terminate()
    # The user's own file, read without --config; the command line still wins.
    home = lab.dir / "config-home"
    (home / "midimesh").mkdir(parents=True)
    (home / "midimesh" / "midimesh.conf").write_text('name = "from-home"\nno-midi = true\n'
                                                      'no-rtp-midi = true\n')
    node = lab.spawn("from-home", [midimesh(), "--connect", f"127.0.0.1:{lab.free_port()}"],
                     env={"XDG_CONFIG_HOME": str(home)})
    node.wait_for_line(r'node "from-home" id')
    node.terminate()
    for content, why in (('nmae = "typo"\n', "parse nmae"), (None, "not readable")):
        path = lab.dir / "bad.conf"
        path.unlink(missing_ok=True)
        if content:
            path.write_text(content)
        run = subprocess.run([midimesh(), "--config", str(path)], capture_output=True, text=True,
                             timeout=10)
        if run.returncode != 2 or why not in run.stderr:
            fail(f"--config with {content or 'no file'!r}: exit {run.returncode}, {run.stderr}")
    print("options come from --config and ~/.config/midimesh/midimesh.conf; a misspelt key "
          "and a missing file are usage errors")


def journal(lab: Lab) -> None:
    # A log file standing in for journald's stream: JOURNAL_STREAM names it (device:inode).
    log = lab.dir / "journal.log"
    log.touch()
    stat = log.stat()
    secret = lab.dir / "short-secret"
    secret.write_text("short\n")
    secret.chmod(0o600)
    with open(log, "w") as out:
        run = subprocess.Popen(
            [midimesh(), "--connect", f"127.0.0.1:{lab.free_port()}", "--no-midi", "--no-rtp-midi",
             "--secret-file", str(secret), "--name", "journal"],
            stdout=out, stderr=out, env={**os.environ, "JOURNAL_STREAM":
                                          f"{stat.st_dev}:{stat.st_ino}"})
        try:
            meshlab.wait_until(lambda: "joining the hub" in log.read_text(), 10, "its first lines")
        finally:
            run.terminate()
            run.wait(10)
    lines = log.read_text().splitlines()
    if not any(l.startswith("<4>security: the passphrase has only 5 characters") for l in lines) \
            or not any(l.startswith("<6>node: ") for l in lines) \
            or any(re.match(r"\d\d:\d\d:\d\d", l) for l in lines):
        fail("under systemd, lines should start with <priority>, no timestamp:\n" +
             "\n".join(lines[:8]))
    print("under systemd: <4> for warnings, <6> for information, no timestamps")


def test() -> None:
    man_page_agrees(midimesh(), SOURCE / "src/cli/midimesh.1")
    man_page_agrees(os.environ["MESHTOP"], SOURCE / "tools/meshtop/meshtop.1")
    example_config()
    installed()
    units()
    with Lab() as lab:
        config_files(lab)
        journal(lab)


meshlab.main(test)
