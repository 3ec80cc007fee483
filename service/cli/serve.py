"""The server side's long-running commands.

- ``gdlab serve``: the HTTP service on gunicorn with its sandbox runner beside it
  (:mod:`service.serve` supervises both);
- ``gdlab worker``: a grading worker of the job queue (needs ``GDLAB_REDIS_URL``;
  :mod:`service.worker`).

Configuration comes from ``GDLAB_*`` variables through :class:`service.config.Config`.
"""

from __future__ import annotations

import argparse

from service.cli.common import UsageError, config


def add_commands(commands) -> None:
    """``gdlab serve`` and ``gdlab worker``."""
    serve = commands.add_parser(
        "serve", help="run the HTTP service (gunicorn) with its sandbox runner",
        description="Run the gdlab service on gunicorn. Configuration comes from GDLAB_* "
                    "variables (see the README); with none set: SQLite in ./gdlab-data, a "
                    "sandbox runner started alongside, the bundled exercises.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; 0.0.0.0 in a container)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=2,
                       help="gunicorn worker processes (default 2)")
    serve.add_argument("--threads", type=int, default=16,
                       help="threads per worker (default 16)")
    serve.set_defaults(handler=serve_command)

    worker = commands.add_parser(
        "worker", help="run a grading worker of the job queue (needs GDLAB_REDIS_URL)",
        description="Take submissions from the job queue in Redis (GDLAB_REDIS_URL), grade "
                    "them in a sandbox runner of its own (or GDLAB_SANDBOX_SOCKET's) and "
                    "write the results to the database (GDLAB_DATABASE_URL). Run any "
                    "number, on any number of machines. SIGTERM stops it after the current "
                    "submission.")
    worker.add_argument("--burst", action="store_true",
                        help="stop when the queue is empty (default: wait for more)")
    worker.set_defaults(handler=worker_command)


def serve_command(args: argparse.Namespace) -> int:
    """Run the service until stopped; gunicorn's exit status."""
    from service.serve import ServeOptions, serve

    if not 0 < args.port < 65536 or args.workers < 1 or args.threads < 1:
        raise UsageError("--port must be 1-65535, --workers and --threads at least 1")
    return serve(ServeOptions(args.host, args.port, args.workers, args.threads), config())


def worker_command(args: argparse.Namespace) -> int:
    """Grade queued submissions until stopped (or, with ``--burst``, the queue is empty)."""
    import logging

    from service.worker import run_worker

    settings = config()
    if settings.redis_url is None:
        raise UsageError("gdlab worker needs GDLAB_REDIS_URL (the job queue's Redis), e.g. "
                         "redis://127.0.0.1:6379/0")
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_worker(settings, burst=args.burst)
