"""The README's first hour, run as written: its command block in a fresh folder, one command after the
other in one shell (demo, report, duty queue, team and worker, token, serve, a claim over HTTP, the huddle
board), then its Python example twice. Each command's output is checked, so the README and the program
cannot drift apart."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from api_support import free_port

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()

pytestmark = pytest.mark.slow


def block(name: str) -> str:
    """The code between ``<!-- name:start -->`` and ``<!-- name:end -->`` (without its fences)."""
    found = re.search(rf"<!-- {name}:start -->\n```\w+\n(.*?)```\n<!-- {name}:end -->", README, re.DOTALL)
    assert found, f"the README has no {name} block"
    return found.group(1)


def newcomer(tmp_path: Path) -> dict:
    """The environment of someone who has just installed the engine: no PATHWAY_* settings, no config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHWAY_")}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "home" / ".config"),
               XDG_STATE_HOME=str(tmp_path / "home" / ".local" / "state"), PYTHONPATH=str(ROOT),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]), COLUMNS="160")
    return env


# What each command of the block must print (the command's first words: what its output must hold).
EXPECTED = {
    "pathway demo": ("Waits by client group", "Database: sqlite:///pathway.db (every pathway command uses it)",
                     "Next, try:", "pathway duty queue --team north"),
    "pathway report waits": ("Waits", "north", "south", "c1_waiting"),
    "pathway duty queue": ("queue of team north", "c1_waiting"),
    "pathway team add": ("team added", "east", "East"),
    "pathway staff add": ("worker added", "amira", "east", "30"),
    "curl -s --retry": ('"status":"ok"', '"database":"ok"'),
    "curl -s -X POST": ('"worker":"north-w01"', '"team":"north"'),
    "echo": ("huddle board: http://127.0.0.1:",),
}


def test_the_readme_first_hour_runs_as_written(tmp_path):
    commands = [line for line in block("first-hour").splitlines() if line.strip() and not line.startswith("#")]
    assert [c.split()[:2] for c in commands][:3] == [["pathway", "demo"], ["pathway", "report"], ["pathway", "duty"]]
    port = free_port()
    # Each command after a marker line of its own (curl's replies end without a newline).
    script = "set -e\n" + "".join(f"printf '\\n### {n}\\n'\n{c.replace('8000', str(port))}\n"
                                  for n, c in enumerate(commands))
    work = tmp_path / "work"
    work.mkdir()
    log = tmp_path / "first-hour.log"  # a file, not a pipe: the background server keeps its end open
    with log.open("w") as written:
        shell = subprocess.Popen(["bash", "-c", script], cwd=work, env=newcomer(tmp_path), stdout=written,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        shell.wait(timeout=600)
        out = log.read_text()
        assert shell.returncode == 0, out
        said = dict(zip(range(len(commands)), re.split(r"^### \d+$", out, flags=re.MULTILINE)[1:], strict=True))
        for n, command in enumerate(commands):
            for start, needles in EXPECTED.items():
                if command.startswith(start):
                    for needle in needles:
                        assert needle in said[n], f"{command!r} did not print {needle!r}:\n{said[n]}"
        claimed = said[next(n for n, c in enumerate(commands) if c.startswith("curl -s -X POST"))]
        assert re.search(r'"stage":"c[123]_active"', claimed), claimed
        board = re.search(r"huddle board: (\S+)", out).group(1)
        with httpx.Client(follow_redirects=True, timeout=30) as client:
            page = client.get(board)
            assert page.status_code == 200 and "north" in page.text.lower(), page.text[:500]
            assert str(page.url).endswith("/huddle/north"), "the token left the address bar"
            data = client.get(f"http://127.0.0.1:{port}/teams/north/queue")  # the cookie signs it in
            assert data.status_code == 200, data.text
        # Nothing was left in the working folder but the database (beat and config files live elsewhere).
        assert {p.name for p in work.iterdir()} <= {"pathway.db", "pathway.db-wal", "pathway.db-shm"}
    finally:
        try:
            os.killpg(shell.pid, signal.SIGTERM)  # the block's `pathway serve &`, in the session this test started
        except ProcessLookupError:
            pass


def test_the_readme_python_example_prints_and_runs_again(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    env = newcomer(tmp_path)
    demo = subprocess.run([sys.executable, "-c", "from pathway.cli import main; main()", "demo", "--months", "1"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stderr
    (work / "example.py").write_text(block("python-example"))
    ids = []
    for _ in range(2):  # a second run is a second contact, not an error
        run = subprocess.run([sys.executable, "example.py"], cwd=work, env=env, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        first, *teams = run.stdout.splitlines()
        found = re.fullmatch(r"(\d+) c1_active north-w01 0", first)
        assert found, run.stdout
        ids.append(int(found.group(1)))
        assert [line.split()[0] for line in teams] == ["north", "south"], run.stdout
    assert ids[1] == ids[0] + 1
