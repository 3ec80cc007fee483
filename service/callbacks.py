"""Callbacks: when a submission with a ``callback_url`` is graded, its result is POSTed
there, signed, and retried with backoff a bounded number of times.

The URL is the submitter's, so it is checked like any request the server makes on a
stranger's behalf (server-side request forgery): http(s) only, and never an address of
the server's own networks (loopback, link-local, private, ...) unless the instructor
allows it (``GDLAB_CALLBACK_ALLOW_PRIVATE``). It is checked when submitted and again when
delivered, since a name may resolve elsewhere by then.

The body is signed with HMAC-SHA256 under a per-server secret; the receiver recomputes it
over the raw body and compares it with the ``X-Gdlab-Signature: sha256=<hex>`` header.

Deliveries are durable: one is stored (:class:`~service.models.CallbackDelivery`) in the
transaction that stores the result, then tried at once by the process that graded, and
again with backoff; a delivery left pending (that process died, or the retry is far off)
is sent by the next sweep (:func:`send_due`: the queue's reconciler in the workers, the
web process when it grades). An attempt holds its delivery for a while (a conditional
UPDATE), so two processes do not send it at once; but a receiver that answers after the
sender dies is sent the result again. The contract is **at least once**: every attempt
carries the same body, signature and ``X-Gdlab-Delivery`` id, by which a receiver drops
what it already has. After :data:`ATTEMPTS` attempts (or an answer that refuses it, a 4xx
other than 429) the delivery is ``failed``, and instructors see so on the submission.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.db import Database
from service.models import CallbackDelivery, Setting, Submission, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Gdlab-Signature"
#: The delivery's id, the same at every attempt: a receiver that sees it twice has
#: already had this result (delivery is at least once, never exactly once).
DELIVERY_HEADER = "X-Gdlab-Delivery"
SECRET_KEY = "callback_secret"
#: Attempts of one delivery in all, and the seconds waited before each retry.
ATTEMPTS = 6
BACKOFF = (1.0, 4.0, 15.0, 60.0, 300.0)
#: Seconds one attempt may take.
TIMEOUT = 10.0
#: Seconds an attempt holds its delivery: past that, the process attempting it is taken
#: to have died, and another sends it again.
LEASE = 3 * TIMEOUT
#: The longest wait before a retry that the delivering thread sleeps through; longer
#: ones are left to the sweeps (:func:`send_due`).
IN_PROCESS_WAIT = 20.0
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


def record(session: Session, submission_id: int, url: str, body: bytes,
           now: dt.datetime | None = None) -> CallbackDelivery:
    """Keep a delivery to make, due now: in the transaction that stores the result, so
    that a result is never stored without its callback (nor the other way round)."""
    delivery = CallbackDelivery(delivery_id=uuid.uuid4().hex, submission_id=submission_id,
                                url=url, body=body, status="pending", attempts=0,
                                next_attempt_at=now or utcnow(), created_at=now or utcnow())
    session.add(delivery)
    session.flush()
    return delivery


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt of a delivery tried ``attempts`` times.

    Examples
    --------
    >>> [retry_delay(n) for n in (1, 2, 3, 4, 5, 9)]
    [1.0, 4.0, 15.0, 60.0, 300.0, 300.0]
    """
    return BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]


def _claim(db: Database, pk: int, now: dt.datetime) -> CallbackDelivery | None:
    """Take a due delivery for one attempt (a conditional UPDATE: of two processes, one
    gets it), holding it for :data:`LEASE` seconds; None when it is not due or not
    pending."""
    with db.session() as session:
        taken = session.execute(
            update(CallbackDelivery)
            .where(CallbackDelivery.id == pk, CallbackDelivery.status == "pending",
                   CallbackDelivery.next_attempt_at <= now)
            .values(attempts=CallbackDelivery.attempts + 1,
                    next_attempt_at=now + dt.timedelta(seconds=LEASE))).rowcount
        return session.get(CallbackDelivery, pk) if taken else None


def _post(delivery: CallbackDelivery, secret: str, allow_private: bool) -> tuple[str, str]:
    """One POST: ``(verdict, sentence)``, the verdict ``delivered``, ``retry`` (no answer,
    5xx, 429) or ``refused`` (the URL is refused, or the receiver answers another 4xx:
    asking again will not change that)."""
    attempt = delivery.attempts
    try:
        check_url(delivery.url, allow_private)
    except CallbackRefusedError as error:
        return "refused", f"refused: {error}"
    headers = {"Content-Type": "application/json", "User-Agent": "gdlab-callback",
               SIGNATURE_HEADER: sign(delivery.body, secret),
               DELIVERY_HEADER: delivery.delivery_id}
    try:
        answer = requests.post(delivery.url, data=delivery.body, headers=headers,
                               timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as error:
        return "retry", f"no answer after {attempt} attempt(s) ({type(error).__name__})"
    if answer.status_code < 300:
        return "delivered", f"delivered (HTTP {answer.status_code}, attempt {attempt})"
    sentence = f"HTTP {answer.status_code} after {attempt} attempt(s)"
    if answer.status_code < 500 and answer.status_code != 429:
        return "refused", sentence
    return "retry", sentence


def attempt(db: Database, pk: int, secret: str, allow_private: bool,
            now: dt.datetime | None = None) -> CallbackDelivery | None:
    """Try a due delivery once and record how it went (on the delivery, and in a sentence
    on its submission); the delivery as it is then, or None when it was not due (or
    another process holds it)."""
    now = now or utcnow()
    delivery = _claim(db, pk, now)
    if delivery is None:
        return None
    verdict, sentence = _post(delivery, secret, allow_private)
    done = utcnow()
    values: dict[str, Any] = {"outcome": sentence[:200]}
    if verdict == "delivered":
        values.update(status="delivered", delivered_at=done, next_attempt_at=None)
    elif verdict == "refused" or delivery.attempts >= ATTEMPTS:
        values.update(status="failed", next_attempt_at=None)
        if verdict == "retry":
            values["outcome"] = f"failed: {sentence}"[:200]
    else:
        values.update(next_attempt_at=done + dt.timedelta(
            seconds=retry_delay(delivery.attempts)))
    with db.session() as session:
        session.execute(update(CallbackDelivery).where(CallbackDelivery.id == pk)
                        .values(**values))
        session.execute(update(Submission).where(Submission.id == delivery.submission_id)
                        .values(callback_status=values["outcome"]))
        return session.get(CallbackDelivery, pk)


def deliver(db: Database, pk: int, secret: str, allow_private: bool,
            sleep: Callable[[float], None] = time.sleep) -> str:
    """Try a delivery now and again after the short waits of :data:`BACKOFF` (up to
    :data:`IN_PROCESS_WAIT` seconds each), as long as this process holds it; longer waits
    are left to :func:`send_due`. How it stands, in a sentence."""
    while True:
        delivery = attempt(db, pk, secret, allow_private)
        if delivery is None:
            with db.session() as session:
                current = session.get(CallbackDelivery, pk)
            return (current.outcome or current.status) if current else "unknown"
        if delivery.status != "pending":
            return delivery.outcome or delivery.status
        wait = retry_delay(delivery.attempts)
        if wait > IN_PROCESS_WAIT:
            return delivery.outcome or "pending"
        sleep(wait)


_in_flight: set[int] = set()
_in_flight_lock = threading.Lock()


def schedule(db: Database, pk: int, secret: str, allow_private: bool) -> bool:
    """Deliver in the background (the caller has answered or taken its next job); False
    when this process is already delivering it."""
    with _in_flight_lock:
        if pk in _in_flight:
            return False
        _in_flight.add(pk)
    _pool.submit(_deliver_logged, db, pk, secret, allow_private)
    return True


def _deliver_logged(db: Database, pk: int, secret: str, allow_private: bool) -> None:
    try:
        deliver(db, pk, secret, allow_private)
    except Exception:  # a background thread: log, never die silently (send_due retries)
        log.exception("callback delivery %s failed", pk)
    finally:
        with _in_flight_lock:
            _in_flight.discard(pk)


def due(db: Database, now: dt.datetime | None = None, limit: int = 100) -> list[int]:
    """The deliveries that are pending and due (the oldest first)."""
    with db.session() as session:
        return list(session.scalars(
            select(CallbackDelivery.id)
            .where(CallbackDelivery.status == "pending",
                   CallbackDelivery.next_attempt_at <= (now or utcnow()))
            .order_by(CallbackDelivery.next_attempt_at).limit(limit)))


def send_due(db: Database, configured_secret: str | None, allow_private: bool) -> list[int]:
    """Hand every due delivery to the background senders: the ones whose retry time has
    come, and the ones a process that died (after storing a result, before delivering it)
    left behind. The deliveries handed over."""
    pending = due(db)
    if not pending:
        return []
    with db.session() as session:
        secret = server_secret(session, configured_secret)
    return [pk for pk in pending if schedule(db, pk, secret, allow_private)]


def body_of(representation: dict[str, Any]) -> bytes:
    """The callback's body: the submission as ``GET /api/v1/submissions/{id}`` shows it."""
    return json.dumps(representation, default=_iso, allow_nan=False,
                      separators=(",", ":")).encode()


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat() + "Z"
    raise TypeError(f"cannot encode {type(value).__name__}")
