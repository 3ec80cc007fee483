"""The runner's life: bounded concurrency, restarts, and stopping with its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from grader.limits import SandboxLimits
from grader.sandbox import Sandbox, SandboxBusyError
from grader.sandbox.protocol import KINDS

from .conftest import TEST_LIMITS, needs_root, rule, started, update_job

pytestmark = needs_root

SLOW = rule("import time\ntime.sleep(0.6)\n")


def test_many_threads_share_the_slots_and_all_get_their_own_answer(sandbox):
    count = TEST_LIMITS.slots + TEST_LIMITS.queue  # exactly what the runner takes at once
    codes = [rule(f"print({i})\n") for i in range(count)]
    results: dict[int, str] = {}

    def work(i: int) -> None:
        results[i] = sandbox.run(update_job(codes[i])).stdout.strip()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {i: str(i) for i in range(count)}


def test_a_full_queue_answers_busy_at_once():
    limits = SandboxLimits(**{**TEST_LIMITS.to_dict(), "slots": 1, "queue": 1})
    with started(limits) as sandbox:
        outcomes: list[str] = []
        threads = [threading.Thread(
            target=lambda: outcomes.append(sandbox.run(update_job(SLOW)).verdict))
            for _ in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            status = sandbox.status()
            if status["running"] == 1 and status["waiting"] == 1:
                break
            time.sleep(0.01)
        started_at = time.monotonic()
        with pytest.raises(SandboxBusyError, match="retry") as busy:
            sandbox.run(update_job(SLOW))
        assert busy.value.retry_after >= 1
        assert time.monotonic() - started_at < 0.3  # refused at once, not after a wait
        for thread in threads:
            thread.join()
        assert outcomes == ["ok", "ok"]
        assert sandbox.status()["busy_refusals"] == 1


def test_a_dead_runner_is_started_again():
    with started() as sandbox:
        first = sandbox.process.pid
        os.kill(first, signal.SIGKILL)
        sandbox.process.wait()
        assert sandbox.run(update_job(rule())).verdict == "ok"
        assert sandbox.process.pid != first and sandbox.restarts == 1


def test_if_the_zygote_dies_the_runner_stops_and_is_started_again():
    with started() as sandbox:
        first = sandbox.process.pid
        os.kill(sandbox.status()["zygote"], signal.SIGKILL)
        assert sandbox.process.wait(timeout=10) == 1
        assert sandbox.run(update_job(rule())).verdict == "ok"
        assert sandbox.process.pid != first and sandbox.restarts == 1


def test_the_runner_stops_with_the_process_that_started_it(tmp_path):
    script = (
        "import sys, time\n"
        "from grader.limits import SandboxLimits\n"
        "from grader.sandbox import Sandbox\n"
        "s = Sandbox(SandboxLimits(time_limit=2.0))\n"
        "s.start()\n"
        "print(s.process.pid, s.status()['pid'], flush=True)\n"
        "time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE) as parent:
        runner_pid = int(parent.stdout.readline().split()[0])
        assert _alive(runner_pid)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(runner_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(runner_pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_close_stops_the_runner_and_its_standby_children():
    sandbox = Sandbox(TEST_LIMITS)
    sandbox.start()
    runner = sandbox.process.pid
    try:
        children = _children_of(runner)
        # two standby children of every kind of job (a submission sends two jobs of one
        # kind at once: its visible and its hidden runs), and the zygote
        assert TEST_LIMITS.slots >= 2 and len(children) == 2 * len(KINDS) + 1
    finally:
        sandbox.close()
    assert not _alive(runner)
    assert not any(_alive(pid) for pid in children)


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().split(") ")[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found
