"""Who is calling: an instructor, a registered student, or an anonymous self-studier.

Tokens travel as ``Authorization: Bearer <token>``. The server keeps only their SHA-256
hashes (a random 32-byte token needs no slow hash: there is nothing to guess), and
compares hashes in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sys
from dataclasses import dataclass

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import ApiError
from service.models import Setting, Student

log = logging.getLogger(__name__)

INSTRUCTOR_TOKEN_KEY = "instructor_token_sha256"


def new_token() -> str:
    """A fresh random token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The SHA-256 of ``token``, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Caller:
    """The caller of a request.

    Attributes
    ----------
    role : {"anonymous", "student", "instructor"}
    student : str or None
        A registered student's name.
    student_id : int or None
        Their id in the database.
    """

    role: str = "anonymous"
    student: str | None = None
    student_id: int | None = None

    @property
    def is_instructor(self) -> bool:
        """Whether the caller is an instructor."""
        return self.role == "instructor"


def bearer_token() -> str | None:
    """The request's bearer token, if it sent one.

    Raises
    ------
    ApiError
        401 if an Authorization header is there but is not ``Bearer <token>``.
    """
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Send your token as 'Authorization: Bearer <token>'.",
                       headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def identify(session: Session, instructor_hash: str, token: str | None = None) -> Caller:
    """The holder of ``token`` (default: the current request's bearer token).

    Raises
    ------
    ApiError
        401 for a token that is neither the instructors' nor a student's.
    """
    token = bearer_token() if token is None else token
    if token is None:
        return Caller()
    digest = token_hash(token)
    if hmac.compare_digest(digest, instructor_hash):
        return Caller("instructor")
    student = session.scalars(select(Student).where(Student.token_hash == digest)).first()
    if student is None:
        raise ApiError(401, "This token is not valid. Ask your instructor for your token.",
                       headers={"WWW-Authenticate": "Bearer"})
    return Caller("student", student.name, student.id)


def require_instructor(caller: Caller) -> None:
    """Refuse anyone but an instructor.

    Raises
    ------
    ApiError
        401 without a token, 403 with a student's.
    """
    if caller.is_instructor:
        return
    if caller.role == "anonymous":
        raise ApiError(401, "This needs the instructor token: send "
                            "'Authorization: Bearer <instructor token>'.",
                       headers={"WWW-Authenticate": "Bearer"})
    raise ApiError(403, "Only instructors may do this.")


def instructor_hash(session: Session, configured: str | None) -> str:
    """The hash of the instructors' token: of the configured one, or of one generated at
    the first start (printed once on stderr; only its hash is kept)."""
    if configured:
        return token_hash(configured)
    stored = session.get(Setting, INSTRUCTOR_TOKEN_KEY)
    if stored is not None:
        return stored.value
    token = new_token()
    session.add(Setting(key=INSTRUCTOR_TOKEN_KEY, value=token_hash(token)))
    announce_instructor_token(token)
    return token_hash(token)


def reset_instructor_token(session: Session) -> str:
    """Replace the generated instructor token with a new one, and return it."""
    token = new_token()
    stored = session.get(Setting, INSTRUCTOR_TOKEN_KEY)
    if stored is None:
        session.add(Setting(key=INSTRUCTOR_TOKEN_KEY, value=token_hash(token)))
    else:
        stored.value = token_hash(token)
    return token


def announce_instructor_token(token: str) -> None:
    """Print a generated instructor token where the operator sees it, once."""
    print(f"\ngdlab: generated the instructor token (shown only now; set GDLAB_INSTRUCTOR_TOKEN "
          f"to choose your own, or run `gdlab instructor-token --reset`):\n\n    {token}\n",
          file=sys.stderr, flush=True)


SESSION_SECRET_KEY = "session_secret"


def session_secret(session: Session, configured: str | None) -> str:
    """The key that signs the web pages' session cookies: the configured one, or one
    generated at the first start and kept in the database (so that every worker process
    and every restart signs alike)."""
    if configured:
        return configured
    stored = session.get(Setting, SESSION_SECRET_KEY)
    if stored is None:
        stored = Setting(key=SESSION_SECRET_KEY, value=secrets.token_urlsafe(48))
        session.add(stored)
    return stored.value
