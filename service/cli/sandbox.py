"""The sandbox runner's commands, for deployments that run it in a container of its own.

- ``gdlab sandbox-server --socket PATH``: run the runner, where student code runs, on a
  UNIX socket; only the ``GDLAB_SANDBOX_*`` variables of this environment reach it;
- ``gdlab sandbox-status --socket PATH``: ask a runner whether it answers and which
  isolation layers it has (exit status 0 when it answers, 1 when not: a health check).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from service.cli.common import SandboxFailureError, config


def add_commands(commands) -> None:
    """``gdlab sandbox-server`` and ``gdlab sandbox-status``."""
    server = commands.add_parser(
        "sandbox-server",
        help="run the sandbox runner on a UNIX socket (for a separate container)",
        description=(
            "Run the sandbox runner, where student code runs, listening on a UNIX socket. "
            "Limits come from GDLAB_SANDBOX_* variables; no other variable of this "
            "environment reaches it."
        ),
    )
    server.add_argument("--socket", required=True, help="path of the UNIX socket")
    server.add_argument("--socket-mode", default="600",
                        help="octal permissions of the socket (default 600)")
    server.set_defaults(handler=server_command)

    status = commands.add_parser(
        "sandbox-status", help="ask a sandbox runner whether it answers, and its layers",
        description="Ask the sandbox runner at SOCKET for its status: exit status 0 when it "
                    "answers (a container health check), 1 when it does not.")
    status.add_argument("--socket", required=True, help="path of the runner's UNIX socket")
    status.add_argument("--json", action="store_true", help="print the whole status as JSON")
    status.set_defaults(handler=status_command)


def server_command(args: argparse.Namespace) -> int:
    """Replace this process by the runner (it does not return)."""
    from grader.sandbox.client import runner_environment

    settings = dict(config().sandbox_variables)
    command = [sys.executable, "-m", "grader.sandbox.runner", "--socket", args.socket,
               "--socket-mode", args.socket_mode]
    # A fresh interpreter: numpy's thread pools are pinned before it is imported, and
    # nothing of this process (its environment, its memory) is inherited by the runner.
    os.execve(sys.executable, command, runner_environment(settings))


def status_command(args: argparse.Namespace) -> int:
    """Print the runner's layers and slots (or its status as JSON)."""
    from grader.sandbox import Sandbox, SandboxError

    try:
        status = Sandbox(socket_path=args.socket, start_timeout=3).status()
    except (SandboxError, OSError) as error:
        raise SandboxFailureError(f"no runner answers on {args.socket}: {error}") from None
    if args.json:
        print(json.dumps(status))
        return 0
    layers = status.get("layers", {})
    active = [name for name, entry in layers.items() if entry.get("active")]
    missing = {name: entry.get("missing") for name, entry in layers.items()
               if not entry.get("active")}
    print(f"runner {status.get('runner')}: {len(active)}/{len(layers)} layers active, "
          f"{status.get('running')} of {status.get('slots')} slots busy")
    for name, why in missing.items():
        print(f"  missing {name}: {why}")
    return 0
