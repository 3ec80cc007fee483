"""``gdlab serve``: the service on gunicorn, with its sandbox runner beside it.

One supervising process (this one) prepares the database, starts the sandbox runner
(unless ``GDLAB_SANDBOX_SOCKET`` names one running elsewhere, or ``GDLAB_REDIS_URL`` sends
grading to the job queue's workers, which have runners of their own) and starts gunicorn,
whose workers reach the runner through its socket. The runner is started again if it dies; both
stop when this process is told to stop (SIGTERM, SIGINT) or gunicorn exits.

The runner is a child of this process rather than of gunicorn's master so that no
process that forks workers ever has a second thread or a sandbox handle to inherit.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from types import FrameType

from grader.sandbox import Sandbox, SandboxUnavailableError
from service.app import prepare_database
from service.config import Config

log = logging.getLogger(__name__)

#: Seconds between two checks that the runner and gunicorn are alive.
SUPERVISION_INTERVAL = 0.5


@dataclass(frozen=True)
class ServeOptions:
    """How to run gunicorn."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 16
    timeout: int = 60


def gunicorn_command(options: ServeOptions) -> list[str]:
    """The gunicorn command line: threaded workers, access log on stdout."""
    return [sys.executable, "-m", "gunicorn", "--bind", f"{options.host}:{options.port}",
            "--workers", str(options.workers), "--threads", str(options.threads),
            "--worker-class", "gthread", "--timeout", str(options.timeout),
            "--graceful-timeout", "10", "--access-logfile", "-", "--error-logfile", "-",
            "--forwarded-allow-ips", "127.0.0.1",
            # gunicorn 27 opens a control socket in ~/.gunicorn by default: two servers
            # on one machine would share it
            "--no-control-socket", "--config", "python:service.gunicorn_conf",
            "service.app:create_app()"]


def _describe(sandbox: Sandbox) -> str:
    layers = sandbox.status().get("layers", {})
    missing = sorted(name for name, entry in layers.items() if not entry["active"])
    active = len(layers) - len(missing)
    return (f"sandbox runner on {sandbox.socket_path}: {active}/{len(layers)} layers active"
            + (f"; missing: {', '.join(missing)}" if missing else ""))


def serve(options: ServeOptions, config: Config | None = None) -> int:
    """Run the service until stopped; returns gunicorn's exit status."""
    config = config or Config.from_env()
    prepare_database(config).db.engine.dispose()
    environment = dict(os.environ)
    runtime = tempfile.mkdtemp(prefix="gdlab-run-")
    sandbox = None
    try:
        if config.queued:
            print("gdlab: grading through the job queue (GDLAB_REDIS_URL): no sandbox "
                  "runner here, the `gdlab worker`s have theirs", file=sys.stderr, flush=True)
        elif config.sandbox_socket is None:
            sandbox = Sandbox(config.sandbox_limits, runtime_dir=runtime)
            sandbox.start()
            environment["GDLAB_SANDBOX_SOCKET"] = sandbox.socket_path or ""
            print(f"gdlab: {_describe(sandbox)}", file=sys.stderr, flush=True)
        print(f"gdlab: serving on http://{options.host}:{options.port} "
              f"(API docs at /api/v1/docs, health at /health)", file=sys.stderr, flush=True)
        gunicorn = subprocess.Popen(gunicorn_command(options), env=environment)
        return _supervise(gunicorn, sandbox)
    finally:
        if sandbox is not None:
            sandbox.close()
        shutil.rmtree(runtime, ignore_errors=True)


def _supervise(gunicorn: subprocess.Popen[bytes], sandbox: Sandbox | None) -> int:
    def stop(signum: int, _frame: FrameType | None) -> None:
        if gunicorn.poll() is None:
            gunicorn.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while gunicorn.poll() is None:
            time.sleep(SUPERVISION_INTERVAL)
            if sandbox is not None:
                try:
                    sandbox.start()  # starts it again if it died
                except SandboxUnavailableError as error:
                    log.error("the sandbox runner cannot be started: %s", error)
        return gunicorn.returncode
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
