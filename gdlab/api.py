"""``gdlab.submit`` (to a server, through :class:`service.client.Client`) and ``gdlab.grade``
(here, with the grader and its sandbox, as ``gdlab grade`` does)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gdlab.errors import GdlabError
from gdlab.result import Result
from gdlab.source import source_of
from service.cli.submit import progress_text
from service.client import Client, ServerUnreachableError
from service.client import GdlabError as ClientError

Solution = Callable[..., Any] | str


def explain(error: ClientError) -> GdlabError:
    """The client's error as the sentence a student reads (what happened, what to do).

    Examples
    --------
    >>> explain(ClientError(429, "Too many requests.", retry_after=12.0)).message
    'the server is busy: Too many requests. (The server asks to wait 12 s.)'
    >>> explain(ClientError(503, "All busy; send it again in 5 s.", retry_after=5.0)).message
    'the server is busy: All busy; send it again in 5 s.'
    """
    message = error.message.rstrip()
    if isinstance(error, ServerUnreachableError):
        text = (f"{message} (is it running? set GDLAB_SERVER or pass server=, e.g. "
                "gdlab.submit(update, exercise='gd', server='http://127.0.0.1:8000'))")
    elif error.status in (429, 503):
        wait = error.retry_after
        said = wait is None or f"{wait:g} s" in message
        text = f"the server is busy: {message}" + (
            "" if said else f" (The server asks to wait {wait:g} s.)")
    elif error.status >= 500:
        text = f"the server failed ({error.status}): {message}"
    else:
        text = message
    return GdlabError(text, error.status, error.errors, error.retry_after)


def _progress() -> Callable[[dict[str, Any]], None]:
    """Show a queued submission's place in line: one output kept up to date in a notebook,
    a line rewritten on stderr elsewhere."""
    handle: list[Any] = []

    def show(submission: dict[str, Any]) -> None:
        text = f"{progress_text(submission)}…"
        pretty = _ipython_pretty()
        if pretty is None:
            print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
        elif handle:
            handle[0].update(pretty(text))
        else:
            handle.append(_ipython_display(pretty(text)))

    return show


def _ipython_pretty() -> Callable[[str], Any] | None:
    """IPython's ``Pretty`` (plain text, no quotes) inside IPython, else None: IPython is
    optional."""
    try:
        from IPython import get_ipython  # noqa: PLC0415 (optional)
        from IPython.display import Pretty  # noqa: PLC0415
    except ImportError:
        return None
    return Pretty if get_ipython() is not None else None


def _ipython_display(obj: Any) -> Any:
    from IPython.display import display  # noqa: PLC0415 (only called inside IPython)

    return display(obj, display_id=True)


def submit(solution: Solution, exercise: str, *, student: str | None = None,
           server: str | None = None, token: str | None = None,
           client: Client | None = None) -> Result:
    """Send ``solution`` to the gdlab server to be graded; the result, which a notebook
    shows as a score, a verdict table, the diagnosis and the loss curves.

    The server and token are those of ``gdlab submit``: the arguments, else
    ``GDLAB_SERVER`` / ``GDLAB_TOKEN``, else ``~/.config/gdlab/client.toml``. A server with
    a job queue is polled until the submission is graded.

    Parameters
    ----------
    solution : function or str
        Your function (e.g. ``update``: its source is sent, with the imports and
        constants it uses from the notebook) or a whole solution file as text.
    exercise : str
        The exercise's id, e.g. ``"adam"``.
    student : str, optional
        Your name, on a server in open mode.
    server, token : str, optional
        Override the configured server and token.
    client : service.client.Client, optional
        A client of your own (its timeouts and retries) instead of a new one.

    Raises
    ------
    GdlabError
        One sentence: the code was refused (and why), the exercise is unknown, the
        server is down or busy, or the source of the function cannot be found.

    Examples
    --------
    In a notebook::

        import gdlab
        def update(params, grad, lr, state, **hyper):
            return params - lr * grad
        gdlab.submit(update, exercise="gd")
    """
    try:
        client = client or Client(server, token)
        code = solution
        if not isinstance(solution, str):
            contract = client.exercise(exercise)["contract"]
            code = source_of(solution, contract["entry"], exercise)
        data = client.submit(exercise, code, student, progress=_progress())
    except GdlabError:
        raise
    except ClientError as error:
        raise explain(error) from None
    submission = data["id"]
    return Result(data, lambda fmt: client.plot(submission, fmt),
                  where=f"submission {submission} on {client.server}")


def grade(solution: Solution, exercise: str, *, exercises_dir: str | Path | None = None,
          ) -> Result:
    """Grade ``solution`` on this machine, without a server: the same grader, sandbox and
    result as ``gdlab grade`` (and as a server).

    Parameters
    ----------
    solution : function or str
        Your function or a whole solution file as text (as for :func:`submit`).
    exercise : str
        The exercise's id.
    exercises_dir : str or Path, optional
        A folder of exercises (default ``GDLAB_EXERCISES_DIR``, else the bundled ones).

    Raises
    ------
    GdlabError
        The code was refused, the exercise is unknown, or the sandbox failed.
    """
    from grader.catalog import load_catalog  # noqa: PLC0415 (numpy and the engine: only here)
    from grader.grading import Grader  # noqa: PLC0415
    from grader.limits import SandboxLimits  # noqa: PLC0415
    from grader.plots import plot_grade  # noqa: PLC0415
    from grader.sandbox import Sandbox, SandboxError, SourceRejectedError  # noqa: PLC0415

    folder = exercises_dir or os.environ.get("GDLAB_EXERCISES_DIR")
    catalog = load_catalog(Path(folder) if folder else None)
    try:
        chosen = catalog.get(exercise)
    except KeyError as error:
        broken = [e for e in catalog.errors if f"/{exercise}/" in str(e)]
        raise GdlabError(" ".join([str(error.args[0]), *map(str, broken)]), 404) from None
    code = source_of(solution, chosen.entry, exercise)
    try:
        limits = SandboxLimits.from_env()
    except ValueError as error:
        raise GdlabError(str(error)) from None
    try:
        with Sandbox(limits, socket_path=os.environ.get("GDLAB_SANDBOX_SOCKET") or None) \
                as sandbox:
            graded = Grader(catalog, sandbox).grade(chosen, code)
    except SourceRejectedError as error:
        where = f"line {error.line}: " if error.line else ""
        raise GdlabError(f"{where}{error.message}", 422) from None
    except SandboxError as error:
        raise GdlabError(f"the sandbox failed: {error}", 503) from None
    return Result(graded.to_dict(), lambda fmt: plot_grade(graded, fmt), where="graded here")
