"""The one exception of the notebook front: a sentence, shown as one line in IPython."""

from __future__ import annotations

from service.client import GdlabError as ClientError


class GdlabError(ClientError):
    """Something a student can fix (or wait out): the code, the exercise id, the server.

    A :class:`service.client.GdlabError` (so ``status``, ``message``, ``errors`` and
    ``retry_after`` are there, and code catching the client's errors catches this one
    too) that IPython and Jupyter show as its one line, never as a traceback: see
    :meth:`_render_traceback_`.

    Examples
    --------
    >>> error = GdlabError("your function was typed at the prompt")
    >>> error._render_traceback_()
    ['GdlabError: your function was typed at the prompt']
    >>> error.status
    0
    """

    def __init__(self, message: str, status: int = 0,
                 errors: dict[str, list[str]] | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(status, " ".join(message.split()), errors, retry_after)

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of the traceback (its documented hook): one line,
        because the student's fix is in the sentence, not in gdlab's call stack."""
        return [f"{type(self).__name__}: {self.message}"]
