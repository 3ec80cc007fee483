"""The repository stands on its own and ships no secret: what a fresh clone holds, and
what `gdlab serve` does in one.

These read the git checkout the tests run from (CI runs them in a fresh clone).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
GDLAB = Path(sys.executable).parent / "gdlab"

# Where a hand-made image or asset may live; anywhere else an image is a test's output.
ASSET_FOLDERS = ("docs/", "service/static/")
GENERATED = re.compile(
    r"(\.(sqlite3?|db|lock|pyc|log)$)|(^|/)\.env$|(^|/)(__pycache__|\.venv|gdlab-data)/")
IMAGE = re.compile(r"\.(png|svg|jpe?g|gif|pdf)$", re.IGNORECASE)


def _tracked() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing is tracked here")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True)
    return [name for name in listing.stdout.decode().split("\0") if name]


def test_no_database_secret_or_generated_file_is_tracked():
    tracked = _tracked()
    generated = [name for name in tracked if GENERATED.search(name)]
    images = [name for name in tracked
              if IMAGE.search(name) and not name.startswith(ASSET_FOLDERS)]
    assert generated == [], f"generated files or secrets are tracked: {generated}"
    assert images == [], f"images outside {ASSET_FOLDERS} are tracked: {images}"


def test_env_files_are_ignored():
    """An instructor's .env (their token) and the default data folder never get added."""
    _tracked()
    names = [".env", "gdlab-data/gdlab.sqlite3", "gdlab-data/migrate.lock", "seed.png"]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=ROOT, check=False,
                             capture_output=True, text=True)
    assert sorted(ignored.stdout.split()) == sorted(names)


def test_nothing_points_outside_the_repository():
    """Only the CI helpers that prepare this build machine may look outside, and only
    where what they look for exists."""
    outside = r"\.\./" + "shared"
    found = subprocess.run(["git", "grep", "-l", "-E", outside], cwd=ROOT, check=False,
                           capture_output=True, text=True)
    files = set(found.stdout.split())
    # the Docker tests (compose stack, platform exports) share one start-up script
    allowed = {"tests/deploy/docker_env.sh"}
    assert files <= allowed, f"files refer outside the repository: {sorted(files - allowed)}"
    _tracked()
    for name in files:
        text = (ROOT / name).read_text()
        assert re.search(r'if \[ -f "\$LOCAL_BASE" \]', text), f"{name}: unguarded use"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_in_a_fresh_clone_prints_a_new_instructor_token(tmp_path):
    """A newcomer's first `gdlab serve` (what `make run` starts) in a fresh clone makes
    its own database and prints the instructor token it generated: no database, and so no
    token hash or session key, comes with the clone."""
    _tracked()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True,
                   timeout=120)
    assert not (clone / "gdlab-data").exists()
    port = _free_port()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("GDLAB_")}
    server = subprocess.Popen([str(GDLAB), "serve", "--port", str(port), "--workers", "1",
                               "--threads", "4"], cwd=clone, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        token = _announced_token(server)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
        _wait_for_health(f"http://127.0.0.1:{port}")
        listing = requests.get(f"http://127.0.0.1:{port}/api/v1/gradebook",
                               headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert listing.status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    data = clone / "gdlab-data"
    assert (data / "gdlab.sqlite3").is_file()
    assert data.stat().st_mode & 0o777 == 0o700


def _announced_token(server: subprocess.Popen[str]) -> str:
    assert server.stderr is not None
    seen = []
    for line in server.stderr:
        seen.append(line)
        if "generated the instructor token" in line:
            # the token stands alone on the next non-empty line
            for following in server.stderr:
                if following.strip():
                    return following.strip()
        if len(seen) > 200:
            break
    raise AssertionError("no generated token was printed:\n" + "".join(seen))


def _wait_for_health(url: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or its workers still starting
        time.sleep(0.2)
    raise AssertionError(f"{url} never became healthy")
