"""A student's pages on a server with a job queue, in a real browser: a submission waits
with its place in line while no worker runs, then its result is filled in where the
student is, without a page load, once a worker has graded it; without JavaScript, the
result page looks again by itself until the grade is there.

The server grades nothing itself (``GDLAB_REDIS_URL``): each test starts its own
``gdlab worker`` when it wants the submission graded, and stops it at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.integration.server import SOLUTION, GdlabServer, WorkerProcess, source
from tests.redis_server import RedisServer

from .conftest import Watched, paste, shot, watched_contexts

#: Milliseconds a page may take to show a grade once a worker runs (it starts its sandbox).
GRADED_MS = 60_000


@pytest.fixture(scope="module")
def queued_server(tmp_path_factory: pytest.TempPathFactory,
                  redis_server: RedisServer) -> Iterator[tuple[GdlabServer, dict[str, str]]]:
    """``gdlab serve`` with a job queue of its own (and no worker), and the environment a
    worker of it needs."""
    settings = {"GDLAB_REDIS_URL": redis_server.url,
                "GDLAB_QUEUE_NAME": f"browser-{uuid.uuid4().hex[:8]}",
                "GDLAB_RATE_LIMIT": "off", "GDLAB_SUBMIT_WAIT": "1"}
    server = GdlabServer(tmp_path_factory.mktemp("browser-queue-data"),
                         tmp_path_factory.getbasetemp() / "browser-queue-server.log",
                         env=settings)
    server.start()
    yield server, {**server.environment(), **settings}
    server.stop()


@pytest.fixture
def start_worker(queued_server: tuple[GdlabServer, dict[str, str]],
                 tmp_path: Path) -> Iterator[Callable[[], WorkerProcess]]:
    """Start a ``gdlab worker`` of the queued server; every one is stopped after the test."""
    server, env = queued_server
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        worker = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log",
                               server.data_dir).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def queued_context(browser: Browser, queued_server: tuple[GdlabServer, dict[str, str]]
                   ) -> Iterator[Callable[..., tuple[BrowserContext, Watched]]]:
    """Browser contexts of the queued server, watched as ``new_context``'s are."""
    yield from watched_contexts(browser, queued_server[0].base)


def test_a_queued_submission_is_filled_in_where_the_student_is(
        queued_context: Callable[..., tuple[BrowserContext, Watched]],
        start_worker: Callable[[], WorkerProcess]) -> None:
    page = queued_context()[0].new_page()
    page.goto("/exercises/gd")
    paste(page, source(SOLUTION))
    page.get_by_role("button", name="Submit").click()
    result = page.locator("#result")
    expect(result).to_contain_text("Queued: number 1 in line")  # no worker yet
    page.evaluate("window.sameDocument = true")
    shot(page, "queued-waiting")
    start_worker()
    expect(page.locator("#result #score")).to_have_text("100", timeout=GRADED_MS)
    assert page.evaluate("window.sameDocument === true")  # filled in, not loaded again
    expect(result.locator("table")).to_contain_text("converged")


def test_without_javascript_the_result_page_looks_again_until_graded(
        queued_context: Callable[..., tuple[BrowserContext, Watched]],
        start_worker: Callable[[], WorkerProcess]) -> None:
    page = queued_context(java_script_enabled=False)[0].new_page()
    page.goto("/exercises/gd")
    page.locator("#code").fill(source(SOLUTION))
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/submissions/*")
    expect(page.locator("#pending")).to_have_text(
        "Waiting for a grading worker: number 1 in the queue. This page fills in the "
        "result when it is ready.")
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(1)
    start_worker()
    expect(page.locator("#score")).to_have_text("100", timeout=GRADED_MS)  # by its refresh
    expect(page.locator("#pending")).to_have_count(0)
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0)
