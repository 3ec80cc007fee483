"""The student's commands, which talk to a gdlab server (through :mod:`service.client`):

- ``gdlab submit FILE --exercise ID``: send a solution, wait for its grade (a progress line
  on a terminal while it is queued), print it, optionally download the plot;
- ``gdlab exercises fetch ID``: write the exercise's starter code and statement.

The server and token come from ``--server``/``--token``, else ``GDLAB_SERVER``/
``GDLAB_TOKEN``, else ``~/.config/gdlab/client.toml`` (:class:`service.client.Settings`).

Exit status: 0 when graded (whatever the score) or fetched; 2 when the server refuses
(bad code, unknown exercise, a missing or wrong token) or on bad usage; 1 when the server
cannot be reached, stays busy, or fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.client import Client, GdlabError, ServerUnreachableError
from service.report import format_grade

EXIT_REFUSED = 2
EXIT_UNAVAILABLE = 1


def _client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", help="the gdlab server (default: GDLAB_SERVER, the "
                                         "config file, or http://127.0.0.1:8000)")
    parser.add_argument("--token", help="your token, if the server needs one "
                                        "(default: GDLAB_TOKEN or the config file)")


def add_submit(commands) -> None:
    """``gdlab submit FILE --exercise ID``."""
    submit = commands.add_parser(
        "submit", help="send a solution to a gdlab server and show its grade",
        description="Send FILE to a gdlab server to be graded against an exercise; print the "
                    "score, a verdict per learning rate and the diagnosis.")
    submit.add_argument("file", help="your solution, e.g. adam.py")
    submit.add_argument("--exercise", required=True, help="the exercise id, e.g. adam")
    submit.add_argument("--student", help="your name (servers in open mode)")
    submit.add_argument("--plot", help="also download the plot to this .png or .svg file")
    submit.add_argument("--json", action="store_true", help="print the server's JSON answer")
    _client_options(submit)
    submit.set_defaults(handler=submit_command)


def add_fetch(actions) -> None:
    """``gdlab exercises fetch ID``."""
    fetch = actions.add_parser(
        "fetch", help="download an exercise's starter code and statement from a server",
        description="Write ID.py (the starter code) and ID.md (the statement) to begin an "
                    "exercise. Existing files are kept unless --force.")
    fetch.add_argument("id", help="the exercise id, e.g. gd")
    fetch.add_argument("--dir", default=".", help="where to write (default: here)")
    fetch.add_argument("--force", action="store_true", help="overwrite existing files")
    _client_options(fetch)
    fetch.set_defaults(handler=fetch_command)


def _fail(message: str, status: int) -> int:
    print(f"gdlab: error: {' '.join(message.split())}", file=sys.stderr)
    return status


def _explain(error: GdlabError) -> int:
    if isinstance(error, ServerUnreachableError):
        return _fail(f"{error.message} (is the address right? --server or GDLAB_SERVER)",
                     EXIT_UNAVAILABLE)
    if error.status == 503:
        return _fail(f"the server stayed busy: {error.message}", EXIT_UNAVAILABLE)
    if error.status >= 500:
        return _fail(f"the server failed ({error.status}): {error.message}", EXIT_UNAVAILABLE)
    return _fail(error.message, EXIT_REFUSED)


def _plot_suffix(path: str | None) -> str | None:
    if path is None:
        return None
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in ("png", "svg") else ""


def progress_text(submission: dict) -> str:
    """The progress line of a submission waiting for its grade.

    Examples
    --------
    >>> progress_text({"status": "queued", "position": 3})
    'queued: number 3 in line'
    >>> progress_text({"status": "grading", "position": None})
    'grading'
    """
    if submission["status"] == "queued" and submission.get("position"):
        return f"queued: number {submission['position']} in line"
    return submission["status"]


def _progress_line():
    def show(submission: dict) -> None:
        print(f"\r\033[K{progress_text(submission)}…", end="", file=sys.stderr, flush=True)
    return show


def submit_command(args: argparse.Namespace) -> int:
    """Submit, print the grade, download the plot."""
    fmt = _plot_suffix(args.plot)
    if fmt == "":
        return _fail(f"--plot must end in .png or .svg, got {args.plot}", EXIT_REFUSED)
    try:
        code = Path(args.file).read_bytes().decode("utf-8")
    except OSError as error:
        return _fail(f"cannot read {args.file}: {error.strerror}", EXIT_REFUSED)
    except UnicodeDecodeError as error:
        return _fail(f"{args.file} is not UTF-8 text (byte {error.start}); save it as UTF-8",
                     EXIT_REFUSED)
    try:
        client = Client(args.server, args.token)
        result = client.submit(args.exercise, code, args.student,
                               progress=_progress_line() if sys.stderr.isatty() else None)
        if sys.stderr.isatty():
            print("\r\033[K", end="", file=sys.stderr, flush=True)
        if fmt:
            Path(args.plot).write_bytes(client.plot(result["id"], fmt))
    except GdlabError as error:
        return _explain(error)
    if args.json:
        print(json.dumps(result))
        return 0
    print(format_grade(result))
    print(f"\nSubmission {result['id']} on {client.server}")
    if fmt:
        print(f"Plot written to {args.plot}")
    return 0


def fetch_command(args: argparse.Namespace) -> int:
    """Write the exercise's starter code and statement."""
    try:
        exercise = Client(args.server, args.token).exercise(args.id)
    except GdlabError as error:
        return _explain(error)
    folder = Path(args.dir)
    files = {folder / f"{exercise['id']}.py": exercise["starter"],
             folder / f"{exercise['id']}.md": exercise["statement"]}
    existing = [str(path) for path in files if path.exists()]
    if existing and not args.force:
        return _fail(f"{', '.join(existing)} already exist(s); your work is kept "
                     "(use --force to overwrite)", EXIT_REFUSED)
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    contract = exercise["contract"]
    print(f"{exercise['title']}: write {contract['signature']} in {exercise['id']}.py "
          f"(the statement is in {exercise['id']}.md), then:\n"
          f"    gdlab submit {exercise['id']}.py --exercise {exercise['id']}")
    return 0
