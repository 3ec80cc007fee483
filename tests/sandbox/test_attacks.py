"""The corpus of hostile submissions (tests/sandbox/attacks/): each is contained, and
reported with a clear verdict; the test observes no effect outside the child.

Each file's docstring starts with ``expect: <verdict>``; placeholders such as ``__PORT__``
are filled in by the test with things that exist outside the sandbox (a listener, a
secret file, the runner's pid).
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import Sandbox

from .conftest import FAKE_SECRET, TEST_LIMITS, UPDATE, needs_root, processes_of_uids, update_job

ATTACKS = Path(__file__).parent / "attacks"
pytestmark = needs_root


def attack(name: str, **values: object) -> tuple[str, str]:
    """The attack's code with its placeholders filled in, and its expected verdict."""
    text = (ATTACKS / f"{name}.py").read_text()
    for key, value in values.items():
        text = text.replace(f"__{key.upper()}__", str(value))
    assert "__" not in re.sub(r"__(name|getattr|path|init|main|file)__", "", text), name
    expected = re.match(r'"""expect: ([a-z-]+)', text)
    assert expected, f"{name} must start with its expected verdict"
    return text, expected.group(1)


def run_attack(sandbox: Sandbox, name: str, **values: object):
    code, expected = attack(name, **values)
    result = sandbox.run(update_job(code))
    assert result.verdict == expected, (name, result.verdict, result.detail, result.stdout)
    assert result.detail  # a sentence for the student, whatever happened
    assert FAKE_SECRET not in result.stdout and FAKE_SECRET not in result.detail
    return result


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection it gets."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.server.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.server.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


SIMPLE = [
    "infinite_loop", "sleep", "allocate_4gib", "numpy_grows_memory", "fork_bomb",
    "thread_bomb", "deep_recursion", "print_100mb", "print_forever_swallowing_errors",
    "read_etc_passwd", "subprocess_run", "ctypes_segfault", "forge_garbage_frame",
    "forge_internal_status", "forge_lying_shapes", "oversized_frame",
]


@pytest.mark.parametrize("name", SIMPLE)
def test_hostile_submission_is_contained_with_its_verdict(sandbox, name):
    started = time.monotonic()
    result = run_attack(sandbox, name)
    assert time.monotonic() - started < TEST_LIMITS.time_limit + 3
    if result.verdict == "output-limit":
        assert len(result.stdout.encode()) <= TEST_LIMITS.output_limit


def test_infinite_loops_and_sleeps_end_at_the_wall_clock(sandbox):
    for name in ("infinite_loop", "sleep"):
        result = run_attack(sandbox, name)
        assert TEST_LIMITS.time_limit - 0.1 <= result.elapsed < TEST_LIMITS.time_limit + 1


@pytest.mark.parametrize("name", ["socket_connect", "ctypes_socket", "os_system"])
def test_no_connection_ever_reaches_a_listener_on_the_host(sandbox, listener, name):
    run_attack(sandbox, name, port=listener.port)
    time.sleep(0.2)
    assert listener.connections == 0
    assert not Path("/tmp/gdlab-shell-was-here").exists()


def test_files_outside_tmp_cannot_be_written(sandbox, tmp_path):
    target = tmp_path / "written-by-student"
    run_attack(sandbox, "write_outside_tmp", path=target)
    assert not target.exists()
    assert not Path("/usr/gdlab-evil").exists() and not Path("/var/tmp/gdlab-evil").exists()


def test_a_file_left_in_tmp_is_gone_for_the_next_job_and_never_on_the_host(sandbox):
    name = f"gdlab-left-{uuid.uuid4().hex}"
    run_attack(sandbox, "leave_file_in_tmp", file=name)
    follow_up = run_attack(sandbox, "look_for_left_file", file=name)
    assert follow_up.stdout.strip() == "absent"
    assert not Path("/tmp", name).exists()


def test_the_projects_files_cannot_be_read(sandbox, project_root):
    result = run_attack(sandbox, "read_project_files", path=project_root)
    assert "def sgd_step" not in result.stdout


def test_the_database_and_other_submissions_cannot_be_read(sandbox, tmp_path):
    database = tmp_path / "data" / "gdlab.sqlite3"
    database.parent.mkdir()
    database.write_bytes(b"SQLite format 3\x00 token=" + FAKE_SECRET.encode())
    other = tmp_path / "data" / "submissions" / "alice-adam.py"
    other.parent.mkdir()
    other.write_text(f"# alice's solution {FAKE_SECRET}\n")
    run_attack(sandbox, "read_database", path=database)
    run_attack(sandbox, "read_other_submission", path=other)


def test_the_servers_environment_is_not_visible(sandbox):
    assert os.environ["GDLAB_FAKE_SECRET"] == FAKE_SECRET
    result = run_attack(sandbox, "read_environment")
    assert result.stdout.strip() == "{}"


def test_proc_of_the_runner_cannot_be_read(sandbox):
    run_attack(sandbox, "read_proc_of_parent")


def test_the_runner_cannot_be_killed(sandbox):
    pid = sandbox.status()["pid"]
    run_attack(sandbox, "kill_runner", pid=pid)
    assert sandbox.status()["pid"] == pid
    assert sandbox.restarts == 0


def test_a_sibling_job_running_at_the_same_time_cannot_be_killed(sandbox):
    sibling_code = ("import time\n\ndef update(params, grad, lr, state, **hyper):\n"
                    "    time.sleep(0.8)\n    return params - lr * grad\n")
    outcome = {}
    thread = threading.Thread(
        target=lambda: outcome.setdefault("sibling", sandbox.run(update_job(sibling_code))))
    thread.start()
    deadline = time.monotonic() + 5
    while not sandbox.status()["children"] and time.monotonic() < deadline:
        time.sleep(0.01)
    (sibling_pid,) = sandbox.status()["children"]
    run_attack(sandbox, "kill_sibling", pid=sibling_pid)
    thread.join()
    assert outcome["sibling"].verdict == "ok"


def test_a_flood_of_empty_files_in_tmp_stops_at_the_inode_limit(sandbox):
    started = time.monotonic()
    result = run_attack(sandbox, "flood_tmp_inodes")
    assert time.monotonic() - started < TEST_LIMITS.time_limit + 3
    created = int(result.stdout.split()[-1])
    assert 0 < created <= TEST_LIMITS.tmp_inodes
    assert result.error is not None and result.error.type == "OSError"
    follow_up = sandbox.run(update_job(UPDATE))
    assert follow_up.verdict == "ok"


def test_the_reference_implementation_cannot_be_found(sandbox):
    result = run_attack(sandbox, "hunt_reference")
    assert result.stdout.strip() == "found: []"


def test_monkeypatching_numpy_inside_changes_nothing_outside(sandbox):
    result = run_attack(sandbox, "monkeypatch_numpy")
    # The trajectory the grader receives is the real one (nothing moved) ...
    trajectory = result.arrays["trajectory_0"]
    assert trajectory.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    # ... and the grader's own numpy still compares honestly.
    assert not np.allclose(trajectory[-1], [0.9, 0.9])


def test_after_the_whole_corpus_the_runner_still_grades_and_nothing_is_left(sandbox):
    # Run last in this module (pytest keeps file order): every attack above has been through.
    result = sandbox.run(update_job(
        "def update(params, grad, lr, state, **hyper):\n    return params - lr * grad\n",
        steps=3))
    assert result.verdict == "ok"
    # diag(1, 25) from (1, 1) with lr 0.1: each step multiplies by (0.9, -1.5)
    np.testing.assert_allclose(result.arrays["trajectory_0"][-1], [0.729, -3.375], rtol=1e-15)
    time.sleep(0.3)
    uids = range(TEST_LIMITS.uid_base, TEST_LIMITS.uid_base + TEST_LIMITS.slots)
    assert processes_of_uids(uids) == []
    assert sandbox.status()["running"] == 0
    for root in Path(tempfile.gettempdir()).glob("gdlab-sandbox-root-*"):
        assert list(root.iterdir()) == []  # every job's mounts lived in its own namespace
