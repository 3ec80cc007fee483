"""Callbacks: when a submission with a ``callback_url`` is graded, its result is POSTed
there, signed, and retried with backoff a bounded number of times.

The URL is the submitter's, so it is checked like any request the server makes on a
stranger's behalf (server-side request forgery): http(s) only, and never an address of
the server's own networks (loopback, link-local, private, ...) unless the instructor
allows it (``GDLAB_CALLBACK_ALLOW_PRIVATE``). It is checked when submitted and again when
delivered, since a name may resolve elsewhere by then.

The body is signed with HMAC-SHA256 under a per-server secret; the receiver recomputes it
over the raw body and compares it with the ``X-Gdlab-Signature: sha256=<hex>`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import update
from sqlalchemy.orm import Session

from service.db import Database
from service.models import Setting, Submission

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Gdlab-Signature"
SECRET_KEY = "callback_secret"
#: Deliveries tried in all, and the seconds waited before each retry.
ATTEMPTS = 4
BACKOFF = (1.0, 4.0, 15.0)
#: Seconds one delivery may take.
TIMEOUT = 10.0
MAX_URL_LENGTH = 2000

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gdlab-callback")


class CallbackRefusedError(ValueError):
    """A callback URL the server will not call (the message says why, in a sentence)."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool,
              resolve: Callable[[str], list[str]] | None = None) -> str:
    """``url`` if the server may POST to it.

    Parameters
    ----------
    url : str
        The submitter's callback URL.
    allow_private : bool
        Whether addresses of private networks (and loopback, link-local) are allowed.
    resolve : callable, optional
        Host name to addresses (tests pass a table); default: the system's resolver.

    Raises
    ------
    CallbackRefusedError
        Not http(s), no host, or a host that is (or resolves to) a non-public address.

    Examples
    --------
    >>> check_url("https://lms.example.org/hook", False, lambda host: ["93.184.216.34"])
    'https://lms.example.org/hook'
    >>> check_url("http://127.0.0.1:9000/", False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    service.callbacks.CallbackRefusedError: callback_url: 127.0.0.1 is a loopback, ...
    """
    if len(url) > MAX_URL_LENGTH:
        raise CallbackRefusedError(f"callback_url: at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise CallbackRefusedError("callback_url: this is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise CallbackRefusedError("callback_url: only http:// and https:// URLs can be "
                                   "called back.")
    if not host:
        raise CallbackRefusedError("callback_url: the URL has no host.")
    if parts.username or parts.password:
        raise CallbackRefusedError("callback_url: the URL may not carry a user name or "
                                   "password.")
    if allow_private:
        return url
    try:
        addresses = [host] if _is_address(host) else (resolve or _resolve)(host)
    except OSError:
        raise CallbackRefusedError(f"callback_url: the host {host!r} cannot be resolved."
                                   ) from None
    if not addresses or not all(_public(address) for address in addresses):
        raise CallbackRefusedError(f"callback_url: {host} is a loopback, link-local or "
                                   "private address; the server does not call those.")
    return url


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        return False


def _resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for ``body``.

    Examples
    --------
    >>> value = sign(b'{"score":100}', "server-secret")
    >>> value.startswith("sha256="), len(value)
    (True, 71)
    """
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def server_secret(session: Session, configured: str | None) -> str:
    """The configured callback secret, else the one generated at the first start and kept
    in the database."""
    if configured:
        return configured
    stored = session.get(Setting, SECRET_KEY)
    if stored is None:
        stored = Setting(key=SECRET_KEY, value=secrets.token_urlsafe(32))
        session.add(stored)
        session.flush()
    return stored.value


@dataclass(frozen=True)
class Delivery:
    """A result to POST to a submission's callback URL."""

    submission_id: int
    url: str
    body: bytes
    secret: str
    allow_private: bool


def schedule(db: Database, delivery: Delivery) -> None:
    """Deliver in the background (the caller has answered or taken its next job)."""
    _pool.submit(_deliver_logged, db, delivery, time.sleep)


def _deliver_logged(db: Database, delivery: Delivery, sleep: Callable[[float], None]) -> None:
    try:
        deliver(db, delivery, sleep)
    except Exception:  # a background thread: log, never die silently
        log.exception("callback of submission %s failed", delivery.submission_id)


def deliver(db: Database, delivery: Delivery,
            sleep: Callable[[float], None] = time.sleep) -> str:
    """POST the result, retrying a failure (no answer, 5xx, 429) with backoff; record how
    it went on the submission and return that sentence."""
    headers = {"Content-Type": "application/json", "User-Agent": "gdlab-callback",
               SIGNATURE_HEADER: sign(delivery.body, delivery.secret)}
    outcome = "not delivered"
    for attempt in range(1, ATTEMPTS + 1):
        try:
            check_url(delivery.url, delivery.allow_private)
        except CallbackRefusedError as error:
            outcome = f"refused: {error}"
            break
        try:
            answer = requests.post(delivery.url, data=delivery.body, headers=headers,
                                   timeout=TIMEOUT, allow_redirects=False)
            if answer.status_code < 300:
                outcome = f"delivered (HTTP {answer.status_code}, attempt {attempt})"
                break
            outcome = f"HTTP {answer.status_code} after {attempt} attempt(s)"
            if answer.status_code < 500 and answer.status_code != 429:
                break  # the receiver refuses it: asking again will not change that
        except requests.RequestException as error:
            outcome = f"no answer after {attempt} attempt(s) ({type(error).__name__})"
        if attempt < ATTEMPTS:
            sleep(BACKOFF[min(attempt - 1, len(BACKOFF) - 1)])
    with db.session() as session:
        session.execute(update(Submission).where(Submission.id == delivery.submission_id)
                        .values(callback_status=outcome[:200]))
    return outcome


def body_of(representation: dict[str, Any]) -> bytes:
    """The callback's body: the submission as ``GET /api/v1/submissions/{id}`` shows it."""
    return json.dumps(representation, default=_iso, allow_nan=False,
                      separators=(",", ":")).encode()


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat() + "Z"
    raise TypeError(f"cannot encode {type(value).__name__}")
