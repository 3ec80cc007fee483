"""The one error format of the API, and the one place where failures become responses.

Every error, whatever raised it — a view, a schema, webargs, Flask-Limiter, Werkzeug's
404/405/413, a bug — leaves as JSON ``{code, status, message, errors}``: ``errors`` maps a
field to its messages (empty when no field is to blame). Nothing a client sends can make
a 500; a 500 is a bug in gdlab, logged here with its traceback and never shown.
"""

from __future__ import annotations

import json
import logging
import math
from http import HTTPStatus
from typing import Any, ClassVar, NoReturn

from flask import Flask, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException, NotFound

from service.db import is_unavailable

log = logging.getLogger(__name__)

Errors = dict[str, list[str]]


class ApiError(Exception):
    """An error response: status, a sentence, field messages and extra headers.

    Examples
    --------
    >>> raise ApiError(404, "No submission 'x1'.")
    Traceback (most recent call last):
    ...
    service.errors.ApiError: No submission 'x1'.
    """

    def __init__(self, status: int, message: str, errors: Errors | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}


def field_error(field: str, message: str, status: int = 422) -> ApiError:
    """An error blaming one field of the request."""
    return ApiError(status, f"{field}: {message}", {field: [message]})


def error_response(status: int, message: str, errors: Errors | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """The JSON response of an error."""
    response = jsonify(code=status, status=HTTPStatus(status).phrase, message=message,
                       errors=errors or {})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten(messages: Any, prefix: str = "") -> Errors:
    """marshmallow's nested messages (``{"json": {"hyper": {"beta1": [...]}}}``) as dotted
    fields (``{"hyper.beta1": [...]}``); the location (json, query) is dropped."""
    if isinstance(messages, dict):
        flat: Errors = {}
        for key, value in messages.items():
            if (not prefix and key in ("json", "query", "view_args", "form", "headers")) \
                    or key == "_schema":
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for inner, texts in flatten(value, name).items():
                flat.setdefault(inner, []).extend(texts)
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "body": list(messages)}
    if isinstance(messages, list):
        flat = {}
        for item in messages:
            for inner, texts in flatten(item, prefix).items():
                flat.setdefault(inner, []).extend(texts)
        return flat
    return {prefix or "body": [str(messages)]}


def _summary(errors: Errors) -> str:
    fields = sorted(errors)
    if len(fields) == 1:
        return f"{fields[0]}: {errors[fields[0]][0]}"
    return "Some fields are not valid: " + ", ".join(fields) + "."


def invalid(messages: Any, status: int = 422) -> ApiError:
    """A schema's refusal (marshmallow's ``ValidationError.messages``) as the one error:
    dotted fields and a sentence, as a refused API request gets.

    Examples
    --------
    >>> error = invalid({"hyper": {"momentum": ["not a number"]}})
    >>> error.status, error.message, error.errors
    (422, 'hyper.momentum: not a number', {'hyper.momentum': ['not a number']})
    """
    errors = flatten(messages)
    return ApiError(status, _summary(errors), errors)


_MESSAGES = {
    404: "There is nothing at this address. The API lives under /api/v1 "
         "(see /api/v1/docs).",
    405: "This address does not accept the {method} method.",
}


#: Bytes of a refused (413) request body read and dropped before answering: a client still
#: sending would otherwise see the connection reset instead of the 413 (gunicorn drains only
#: 64 KiB of an unread body, then closes with the rest unread). A bigger body still ends
#: its connection.
DRAIN_LIMIT = 32 * 1024 * 1024


def drain_request_body(limit: int = DRAIN_LIMIT) -> None:
    """Read and drop what is left of the current request's body, up to ``limit`` bytes."""
    from flask import request  # noqa: PLC0415 (like the messages below: request-bound)

    environ = request.environ
    stream = environ.get("wsgi.input")
    length = request.content_length
    if stream is None or (length is None and not environ.get("wsgi.input_terminated")):
        return  # no length and a server that does not end the stream: reading could block
    left = limit if length is None else min(length, limit)
    try:
        while left > 0:
            chunk = stream.read(min(left, 64 * 1024))
            if not chunk:
                return
            left -= len(chunk)
    except OSError:  # the client went away: there is no one to answer
        return


def _wants_page() -> bool:
    """A browser asking for a web page (never under /api, never /health). A browser names
    HTML in its Accept header; a program's ``*/*`` (curl, requests) gets JSON."""
    from flask import request  # noqa: PLC0415 (only inside a request)

    path = request.path
    if path.startswith("/api") or path == "/health":
        return False
    accept = request.accept_mimetypes
    names_html = any(value in ("text/html", "application/xhtml+xml") and quality > 0
                     for value, quality in accept)
    return names_html and accept.best != "application/json"


def error_page(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error as an HTML page of the web interface."""
    from flask import render_template  # noqa: PLC0415

    page = render_template("error.html", status=status, phrase=HTTPStatus(status).phrase,
                           message=message)
    return Response(page, status=status, headers=headers or {}, mimetype="text/html")


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if _wants_page():
        message = error.description if status != 404 or error.description != \
            NotFound.description else "There is no such page."
        return error_page(status, message)
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if "messages" in data:  # a webargs/marshmallow validation error
        errors = flatten(data["messages"])
        return error_response(status, data.get("message") or _summary(errors), errors, headers)
    if status == 413:
        message = "The request is too large."
        drain_request_body()
    elif status == 429:
        message = f"Too many requests ({error.description}). Wait a little and try again."
    elif status in _MESSAGES:
        from flask import request  # noqa: PLC0415 (only for the message)

        message = _MESSAGES[status].format(method=request.method)
    else:
        message = error.description or HTTPStatus(status).phrase
    response = error_response(status, message, {}, headers)
    for name, value in error.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers.setdefault(name, value)
    return response


def _api_error(error: ApiError) -> Response:
    return error_response(error.status, error.message, error.errors, error.headers)


def _unexpected(error: Exception) -> Response:
    log.exception("unexpected error", exc_info=error)
    message = ("Something went wrong on our side; it has been logged. "
               "Please try again, and tell your instructor if it persists.")
    if _wants_page():
        return error_page(500, message)
    return error_response(500, message)


#: Seconds a client is asked to wait (Retry-After) when the database is unavailable.
DATABASE_RETRY_AFTER = 5
DATABASE_UNAVAILABLE = ("The database is not answering right now, so nothing was saved. "
                        "Please try again in a few seconds.")


def _database_error(error: SQLAlchemyError) -> Response:
    """The database down or restarting is a 503 the client may retry (the transaction was
    rolled back: nothing of the request was kept); any other database error is a bug."""
    if not is_unavailable(error):
        return _unexpected(error)
    log.error("database unavailable: %s", error)
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
    if _wants_page():
        return error_page(503, DATABASE_UNAVAILABLE, headers)
    return error_response(503, DATABASE_UNAVAILABLE, {}, headers)


def install_error_handlers(app: Flask) -> None:
    """Make every error of ``app`` a JSON error (after flask-smorest installed its own)."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(SQLAlchemyError, _database_error)
    app.register_error_handler(Exception, _unexpected)


# --- strict JSON ----------------------------------------------------------------------


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number in JSON; send a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def _float_sized_int(text: str) -> int:
    value = int(text)
    try:
        float(value)
    except OverflowError:
        digits = len(text.lstrip("-"))
        raise ValueError(f"an integer of {digits} digits is too large for a number") from None
    return value


def strict_json_loads(text: str | bytes) -> Any:
    """JSON as the standard says: no NaN, no Infinity, no number that overflows a float.

    Raises
    ------
    ValueError
        With a sentence saying where and what (``json.JSONDecodeError`` for syntax).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float,
                      parse_int=_float_sized_int)


class StrictJSONParser(FlaskParser):
    """webargs' parser reading bodies with :func:`strict_json_loads`, whatever the
    Content-Type claims (curl's ``-d`` says form data), with a readable error."""

    #: Query parameters follow their schema's ``unknown`` too (webargs would drop unknown
    #: ones silently, so a misspelt filter would list everything).
    DEFAULT_UNKNOWN_BY_LOCATION: ClassVar[dict[str, str | None]] = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None, "querystring": None}

    def _raw_load_json(self, req: Any) -> Any:
        data = req.get_data(cache=True)
        if not data:
            return None
        try:
            return strict_json_loads(data)
        except UnicodeDecodeError as error:
            raise ApiError(400, f"The request body is not UTF-8 (byte {error.start}); "
                                "send JSON encoded as UTF-8.") from None
        except json.JSONDecodeError as error:
            raise ApiError(400, f"The request body is not valid JSON: {error.msg} at line "
                                f"{error.lineno}, column {error.colno}.") from None
        except (ValueError, RecursionError) as error:
            raise ApiError(400, f"The request body is not valid JSON: {error}.") from None

    def load_json(self, req: Any, schema: Any) -> Any:
        """The body as JSON; an empty body is an empty object (its required fields are
        then reported one by one)."""
        data = self._raw_load_json(req)
        return {} if data is None else data
