"""The README's shell examples, run against a real server as a reader would run them
(issue 17, item 14), and its settings table checked against `keyward serve --help`.

Every ```sh block runs, in order, in one bash session (`set -euo pipefail`) whose
working directory holds the server's default data directory `./keyward-data`, with
`keyward` and the AWS CLI on the PATH, a fresh HOME and no other AWS configuration;
`127.0.0.1:7478` is replaced by the test server's address. A comment
`<!-- readme-test: ... -->` just before a block changes that:
- `skip: REASON`: not run (building keyward, installing a system service);
- `server: ...`: a server command, started, awaited until it listens, stopped with
  SIGTERM (it must exit 0);
- `after-stop`: run once the server has stopped.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import harness

README = harness.REPO_ROOT / "README.md"
BLOCK_RE = re.compile(r"(?:<!-- readme-test: (?P<marker>[^>]*?) -->\n)?```sh\n(?P<body>.*?)```",
                      re.DOTALL)


@dataclass
class Block:
    line: int
    marker: str
    body: str


def blocks() -> list[Block]:
    text = README.read_text()
    return [Block(text[:m.start()].count("\n") + 1, (m.group("marker") or "").strip(),
                  m.group("body")) for m in BLOCK_RE.finditer(text)]


def environment(cwd: Path) -> dict[str, str]:
    home = cwd / "home"
    home.mkdir(exist_ok=True)
    path = os.pathsep.join([str(harness.keyward_bin().parent),
                            str(Path(harness.aws_cli_path()).parent),
                            str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    return harness.clean_env({"HOME": str(home), "PATH": path,
                              "AWS_EC2_METADATA_DISABLED": "true"})


def start(cwd: Path, env: dict[str, str], command: str) -> tuple[subprocess.Popen, str]:
    """Runs `command` (a `keyward serve`) under bash; returns it and its listening URL."""
    log = open(cwd / f"server-{time.monotonic_ns()}.out", "w+")
    proc = subprocess.Popen(["bash", "-c", "exec " + command], cwd=cwd, env=env,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + harness.START_TIMEOUT_S
    while time.monotonic() < deadline:
        log.seek(0)
        for line in log.read().splitlines():
            m = re.match(r"^keyward listening on (http://127\.0\.0\.1:\d+)$", line.strip())
            if m:
                return proc, m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.kill()
    log.seek(0)
    raise AssertionError(f"{command!r} did not start:\n{log.read()}")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=harness.STOP_TIMEOUT_S)


def run_blocks(cwd: Path, env: dict[str, str], chosen: list[Block], url: str) -> None:
    script = ["set -euo pipefail"]
    for block in chosen:
        script.append(f"echo '### README.md line {block.line}' >&2")
        script.append(block.body.replace("http://127.0.0.1:7478", url))
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"a README example failed (exit {done.returncode}); the last '###' line names it\n"
        f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}")


def test_the_readme_examples_run(tmp_path):
    all_blocks = blocks()
    skipped = [b for b in all_blocks if b.marker.startswith("skip")]
    for block in skipped:
        assert re.match(r"skip: \S", block.marker), f"line {block.line}: a skip needs a reason"
    servers = [b for b in all_blocks if b.marker.startswith("server")]
    after_stop = [b for b in all_blocks if b.marker == "after-stop"]
    in_session = [b for b in all_blocks if not b.marker]
    unknown = [b for b in all_blocks if b.marker and b not in skipped + servers + after_stop]
    assert not unknown, [(b.line, b.marker) for b in unknown]
    assert len(in_session) >= 8 and servers and after_stop, [(b.line, b.marker) for b in all_blocks]

    env = environment(tmp_path)
    proc, url = start(tmp_path, env, "keyward serve --listen 127.0.0.1:0")
    try:
        run_blocks(tmp_path, env, in_session, url)
        for block in servers:
            example, _ = start(tmp_path, env, block.body.strip())
            assert stop(example) == 0, f"README.md line {block.line}: no clean stop"
    finally:
        if proc.poll() is None:
            assert stop(proc) == 0
    run_blocks(tmp_path, env, after_stop, url)


def test_the_settings_table_names_every_serve_flag():
    help_text = subprocess.run([str(harness.keyward_bin()), "serve", "--help"],
                               capture_output=True, text=True, check=True).stdout
    flags = set(re.findall(r"^\s+(?:-\w, )?(--[a-z-]+)", help_text, re.MULTILINE)) - {"--help"}
    assert len(flags) >= 14, flags
    text = README.read_text()
    table = text[text.index("### Settings"):text.index("## What it implements")]
    missing = sorted(flag for flag in flags if f"`{flag}`" not in table)
    assert not missing, f"flags missing from the README's settings table: {missing}"
