"""The service's one configuration object, read from ``GDLAB_*`` environment variables.

Every setting has an embedded default, so ``gdlab serve`` runs with none set: SQLite in
``./gdlab-data``, a sandbox runner started with the service, the bundled exercises, open
self-study submissions. The limits themselves are defined in :mod:`grader.limits`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from grader.limits import Limits, SandboxLimits, ServiceLimits

STUDENT_AUTH_MODES = ("open", "required")

#: Each variable, its default and what it does: the README's table is written from this.
VARIABLES: dict[str, tuple[str, str]] = {
    "GDLAB_DATA_DIR": ("./gdlab-data", "where the SQLite database and runtime files live"),
    "GDLAB_DATABASE_URL": ("sqlite:///<GDLAB_DATA_DIR>/gdlab.sqlite3",
                           "any SQLAlchemy URL (e.g. postgresql+psycopg://...)"),
    "GDLAB_INSTRUCTOR_TOKEN": ("(generated at first start, printed once)",
                               "the instructors' bearer token"),
    "GDLAB_SECRET_KEY": ("(generated at first start, kept in the database)",
                         "signs the web pages' session cookies"),
    "GDLAB_STUDENT_AUTH": ("open", "`open`: self-study, a student name is optional; "
                                   "`required`: every submission needs a student token"),
    "GDLAB_RATE_LIMIT": ("120/minute", "requests per client to /api, Flask-Limiter notation; "
                                       "`off` to disable"),
    "GDLAB_RATE_LIMIT_STORAGE": ("memory://, or GDLAB_REDIS_URL when set",
                                 "where rate-limit counters live (e.g. redis://host:6379)"),
    "GDLAB_REDIS_URL": ("(none: grade inside the web server)",
                        "Redis of the job queue: the web tier enqueues, `gdlab worker`s grade"),
    "GDLAB_QUEUE_NAME": ("gdlab", "the RQ queue's name (several courses may share a Redis)"),
    "GDLAB_SUBMIT_WAIT": ("30", "seconds POST /api/v1/submissions waits for the grade "
                                "before answering 202 (queued)"),
    "GDLAB_MAX_ATTEMPTS": ("3", "times a submission is started before one whose worker keeps "
                                "dying is failed"),
    "GDLAB_WORKER_NICE": ("10", "CPU niceness (0-19) a `gdlab worker` and its sandbox runner "
                                "take: grading is batch work, the web tier must stay "
                                "responsive on a shared machine"),
    "GDLAB_CALLBACK_SECRET": ("(generated at first start, kept in the database)",
                              "signs callback bodies (HMAC-SHA256, X-Gdlab-Signature)"),
    "GDLAB_CALLBACK_ALLOW_PRIVATE": ("false", "`true`: callback URLs may point at loopback, "
                                              "link-local or private addresses"),
    "GDLAB_MAX_REQUEST_BYTES": ("2097152", "largest request body (413 beyond)"),
    "GDLAB_MAX_PAGE_SIZE": ("200", "largest page of a listing"),
    "GDLAB_ACCEPTING_AT_ONCE": ("1", "submissions one web process stores and queues at the "
                                     "same moment (job queue); more wait their turn"),
    "GDLAB_EXERCISES_DIR": ("(the bundled exercises)", "a folder of exercise folders"),
    "GDLAB_SANDBOX_SOCKET": ("(a runner started with the service)",
                             "the UNIX socket of a separate `gdlab sandbox-server`"),
    "GDLAB_MAX_EPOCHS, GDLAB_MAX_LEARNING_RATES, ...": ("see grader/limits.py",
                                                       "limits of reference runs"),
    "GDLAB_SANDBOX_TIME_LIMIT, GDLAB_SANDBOX_CODE_LIMIT, ...": (
        "see grader/limits.py", "limits of student code"),
}


class ConfigError(ValueError):
    """A setting that cannot be used, naming the variable."""


def private_data_dir(path: Path) -> Path:
    """Create the data directory (``0700``) if it is missing, and refuse one that every
    user of the machine may write to.

    The data directory holds the database, and so the instructor token's hash and the key
    that signs the web sessions: another user who can replace a file there can forge a
    session.

    Parameters
    ----------
    path : Path
        ``GDLAB_DATA_DIR``.

    Returns
    -------
    Path
        The same path, now existing.

    Raises
    ------
    ConfigError
        When it is world-writable or cannot be created.

    Examples
    --------
    >>> import tempfile
    >>> private_data_dir(Path(tempfile.mkdtemp()) / "data").stat().st_mode & 0o777 == 0o700
    True
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = path.stat().st_mode
    except OSError as error:
        raise ConfigError(f"GDLAB_DATA_DIR {str(path)!r} cannot be created: "
                          f"{error.strerror}") from None
    if not stat.S_ISDIR(mode):
        raise ConfigError(f"GDLAB_DATA_DIR {str(path)!r} is not a directory")
    if mode & stat.S_IWOTH:
        raise ConfigError(f"GDLAB_DATA_DIR {str(path)!r} is writable by every user of this "
                          f"machine, and it holds the server's secrets: run "
                          f"`chmod o-w {path}` (or choose another folder)")
    return path


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    """A numeric variable, or its default when unset.

    Examples
    --------
    >>> _number({"GDLAB_SUBMIT_WAIT": "5"}, "GDLAB_SUBMIT_WAIT", 30.0)
    5.0
    """
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text!r}") from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    """A true/false variable (unset: false).

    Examples
    --------
    >>> _flag({"X": "yes"}, "X"), _flag({}, "X")
    (True, False)
    """
    text = env.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false, got {text!r}")


@dataclass(frozen=True)
class Config:
    """Everything the service can be configured with.

    Attributes
    ----------
    data_dir : Path
        Database file, runner socket and other runtime files.
    database_url : str
        SQLAlchemy URL.
    instructor_token : str or None
        The instructors' token; None: one is generated at first start (its hash kept).
    secret_key : str or None
        Signs the web pages' session cookies; None: generated once, kept in the database.
    student_auth : {"open", "required"}
        Whether submissions need a student token.
    rate_limit_storage : str
        Flask-Limiter storage URI.
    exercises_dir : Path or None
        None: the bundled exercises.
    sandbox_socket : str or None
        A separate sandbox runner's socket; None: start one with the service.
    limits, sandbox_limits, service_limits
        The limits in force (:mod:`grader.limits`).
    redis_url : str or None
        The job queue's Redis; None: grading in the web process (the embedded default).
    queue_name : str
        The RQ queue.
    submit_wait : float
        Seconds a submission request waits for its grade before answering 202.
    max_attempts : int
        Starts of one submission before it is failed (its workers kept dying).
    worker_nice : int
        Niceness a ``gdlab worker`` adds to itself (and so to the sandbox runner and jobs
        it starts) before it grades: 0 keeps its priority.
    callback_secret : str or None
        Signs callbacks; None: generated once, kept in the database.
    callback_allow_private : bool
        Whether callback URLs may point at loopback, link-local or private addresses.
    sandbox_variables : tuple of (name, value)
        The ``GDLAB_SANDBOX_*`` variables as written: a runner started on its own
        (``gdlab sandbox-server``) is handed these and reads its limits from them.
    testing : bool
        Flask's testing mode.
    """

    data_dir: Path = Path("gdlab-data")
    database_url: str = ""
    instructor_token: str | None = None
    secret_key: str | None = None
    student_auth: str = "open"
    rate_limit_storage: str = "memory://"
    exercises_dir: Path | None = None
    sandbox_socket: str | None = None
    limits: Limits = field(default_factory=Limits)
    sandbox_limits: SandboxLimits = field(default_factory=SandboxLimits)
    service_limits: ServiceLimits = field(default_factory=ServiceLimits)
    redis_url: str | None = None
    queue_name: str = "gdlab"
    submit_wait: float = 30.0
    max_attempts: int = 3
    worker_nice: int = 10
    callback_secret: str | None = None
    callback_allow_private: bool = False
    sandbox_variables: tuple[tuple[str, str], ...] = ()
    testing: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.submit_wait <= 600:
            raise ConfigError(f"GDLAB_SUBMIT_WAIT must be 0 to 600 seconds, "
                              f"got {self.submit_wait:g}")
        if not 1 <= self.max_attempts <= 100:
            raise ConfigError(f"GDLAB_MAX_ATTEMPTS must be 1 to 100, got {self.max_attempts}")
        if not 0 <= self.worker_nice <= 19:
            raise ConfigError(f"GDLAB_WORKER_NICE must be 0 to 19, got {self.worker_nice}")
        if self.redis_url is not None and not self.redis_url.startswith(
                ("redis://", "rediss://", "unix://")):
            raise ConfigError("GDLAB_REDIS_URL must start with redis://, rediss:// or unix://")
        if self.student_auth not in STUDENT_AUTH_MODES:
            raise ConfigError(f"GDLAB_STUDENT_AUTH must be 'open' or 'required', "
                              f"got {self.student_auth!r}")
        if self.instructor_token is not None and len(self.instructor_token) < 16:
            raise ConfigError("GDLAB_INSTRUCTOR_TOKEN must be at least 16 characters long")
        if not self.database_url:
            database = (self.data_dir / "gdlab.sqlite3").resolve()
            object.__setattr__(self, "database_url", f"sqlite:///{database}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """The configuration from ``GDLAB_*`` variables (``os.environ`` by default).

        Raises
        ------
        ConfigError
            Naming the variable that cannot be used.
        """
        env = os.environ if environ is None else environ
        try:
            return cls(
                data_dir=Path(env.get("GDLAB_DATA_DIR") or "gdlab-data"),
                database_url=env.get("GDLAB_DATABASE_URL", ""),
                instructor_token=env.get("GDLAB_INSTRUCTOR_TOKEN") or None,
                secret_key=env.get("GDLAB_SECRET_KEY") or None,
                student_auth=env.get("GDLAB_STUDENT_AUTH", "open").strip().lower(),
                rate_limit_storage=(env.get("GDLAB_RATE_LIMIT_STORAGE")
                                    or env.get("GDLAB_REDIS_URL") or "memory://"),
                exercises_dir=(Path(env["GDLAB_EXERCISES_DIR"])
                               if env.get("GDLAB_EXERCISES_DIR") else None),
                sandbox_socket=env.get("GDLAB_SANDBOX_SOCKET") or None,
                limits=Limits.from_env(env),
                sandbox_limits=SandboxLimits.from_env(env),
                service_limits=ServiceLimits.from_env(env),
                redis_url=env.get("GDLAB_REDIS_URL") or None,
                queue_name=env.get("GDLAB_QUEUE_NAME") or "gdlab",
                submit_wait=_number(env, "GDLAB_SUBMIT_WAIT", 30.0),
                max_attempts=int(_number(env, "GDLAB_MAX_ATTEMPTS", 3)),
                worker_nice=int(_number(env, "GDLAB_WORKER_NICE", 10)),
                callback_secret=env.get("GDLAB_CALLBACK_SECRET") or None,
                callback_allow_private=_flag(env, "GDLAB_CALLBACK_ALLOW_PRIVATE"),
                sandbox_variables=tuple(sorted(
                    (name, value) for name, value in env.items()
                    if name.startswith("GDLAB_SANDBOX_"))),
            )
        except ConfigError:
            raise
        except ValueError as error:
            raise ConfigError(str(error)) from None

    @property
    def queued(self) -> bool:
        """Whether grading goes through the job queue (GDLAB_REDIS_URL is set)."""
        return self.redis_url is not None

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (WAL, busy timeout, a file to create)."""
        return self.database_url.startswith("sqlite")
