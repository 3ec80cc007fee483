"""Frames: how jobs and results travel, as a JSON header plus raw float64 buffers.

Never pickle, never eval: a frame is ``MAGIC`` (4 bytes), the header length (4 bytes, big
endian), the header (UTF-8 JSON object) and then the raw bytes of every array the header
lists, in order. Arrays are little-endian float64 (or int64 for indices in job inputs),
at most three dimensions; the reader checks every size against the bytes it actually has,
bounds the header's size and nesting, and refuses anything else: a forged, truncated or
deeply nested frame is a :class:`FrameError`, never another exception. (Whether a frame
is a result the job could have produced is checked against the job, in
:mod:`grader.sandbox.results`.)

The runner speaks to its clients with small messages on a UNIX socket:

- a request is a 24-byte preamble (``MAGIC``, version, operation, the job's kind, a zero
  byte, the payload length and the most result bytes the job may send back, 8 bytes each)
  followed, for ``run``, by a job frame; the kind and that ceiling are all the runner
  learns of a job;
- a response is a sequence of chunks, each a type byte and a 4-byte length: ``D`` chunks
  carry the job's result frame as the child wrote it, one ``E`` chunk (JSON) ends it.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from grader.kinds import NAMES

MAGIC = b"GDLB"
VERSION = 2
OP_RUN, OP_STATUS = 1, 2
#: Job kinds, by their number in the preamble (the one list of kinds: :mod:`grader.kinds`).
KINDS = NAMES
PREAMBLE = struct.Struct(">4sBBBxQQ")
CHUNK = struct.Struct(">cI")
MAX_HEADER = 1 << 20
#: Nesting of a header's JSON: gdlab's own frames need five levels.
MAX_DEPTH = 32
MAX_DIMS = 3
_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_DTYPES = {"<f8": np.dtype("<f8"), "<i8": np.dtype("<i8")}


class FrameError(ValueError):
    """A frame that is malformed, forged or larger than allowed."""


@dataclass(frozen=True)
class Frame:
    """A decoded frame: its JSON header (without the array table) and its arrays."""

    header: dict[str, Any]
    arrays: dict[str, npt.NDArray[Any]]


def encode(header: Mapping[str, Any], arrays: Mapping[str, npt.ArrayLike] | None = None) -> bytes:
    """Encode a header and named arrays into one frame.

    Examples
    --------
    >>> frame = encode({"kind": "demo"}, {"x": np.arange(3.0)})
    >>> decode(frame, max_bytes=1024).arrays["x"]
    array([0., 1., 2.])
    """
    table, buffers = [], []
    for name, value in (arrays or {}).items():
        array = np.asarray(value)
        dtype = "<i8" if array.dtype.kind in "iu" else "<f8"
        array = np.ascontiguousarray(array, dtype=_DTYPES[dtype])
        table.append({"name": name, "dtype": dtype, "shape": list(array.shape)})
        buffers.append(array.tobytes())
    text = json.dumps({**header, "arrays": table}, allow_nan=False, separators=(",", ":"))
    head = text.encode()
    return b"".join([MAGIC, struct.pack(">I", len(head)), head, *buffers])


def decode(data: bytes | bytearray | memoryview, *, max_bytes: int,
           dtypes: tuple[str, ...] = ("<f8",), max_header: int = MAX_HEADER) -> Frame:
    """Decode and check a frame.

    Parameters
    ----------
    data : bytes-like
        The whole frame.
    max_bytes : int
        Refuse frames larger than this.
    dtypes : tuple of str
        Array types allowed (results: float64 only).
    max_header : int
        Refuse a JSON header longer than this (at most :data:`MAX_HEADER`).

    Raises
    ------
    FrameError
        For anything not exactly a well-formed frame within the limits.
    """
    view = memoryview(data)
    if len(view) > max_bytes:
        raise FrameError(f"frame of {len(view)} bytes exceeds the limit of {max_bytes}")
    if len(view) < 8 or bytes(view[:4]) != MAGIC:
        raise FrameError("not a gdlab frame")
    (length,) = struct.unpack(">I", view[4:8])
    if length > min(max_header, MAX_HEADER) or 8 + length > len(view):
        raise FrameError("header length out of range")
    try:
        header = json.loads(bytes(view[8 : 8 + length]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise FrameError("header is not UTF-8 JSON") from None
    except RecursionError:  # json's parser recurses once per level
        raise FrameError(f"header nested deeper than {MAX_DEPTH} levels") from None
    if not nested_within(header, MAX_DEPTH):
        raise FrameError(f"header nested deeper than {MAX_DEPTH} levels")
    if not isinstance(header, dict) or not isinstance(header.get("arrays"), list):
        raise FrameError("header must be an object with an array table")
    table = header.pop("arrays")
    arrays: dict[str, npt.NDArray[Any]] = {}
    offset = 8 + length
    for entry in table:
        name, dtype, shape = _check_entry(entry, dtypes)
        if name in arrays:
            raise FrameError(f"array {name!r} appears twice")
        # Python integers: numpy's product of three sizes below 2**31 can wrap around
        nbytes = _DTYPES[dtype].itemsize * math.prod(shape)
        if offset + nbytes > len(view):
            raise FrameError(f"array {name!r} runs past the end of the frame")
        arrays[name] = np.frombuffer(view[offset : offset + nbytes], dtype=_DTYPES[dtype]
                                     ).reshape(shape)
        offset += nbytes
    if offset != len(view):
        raise FrameError("trailing bytes after the last array")
    return Frame(header, arrays)


def nested_within(value: Any, depth: int) -> bool:
    """Whether a decoded JSON value nests at most ``depth`` levels of lists and objects
    (counted level by level, without recursion, so that any depth can be asked about).

    Examples
    --------
    >>> nested_within({"a": [1, {"b": []}]}, 4), nested_within([[[]]], 2)
    (True, False)
    """
    level = [value]
    for _ in range(depth + 1):
        level = [item for item in level if isinstance(item, dict | list)]
        if not level:
            return True
        level = [child for item in level
                 for child in (item.values() if isinstance(item, dict) else item)]
    return False


def _check_entry(entry: Any, dtypes: tuple[str, ...]) -> tuple[str, str, tuple[int, ...]]:
    if not isinstance(entry, dict):
        raise FrameError("array table entries must be objects")
    name, dtype, shape = entry.get("name"), entry.get("dtype"), entry.get("shape")
    if not isinstance(name, str) or not _NAME.match(name):
        raise FrameError("bad array name")
    if dtype not in dtypes:
        raise FrameError(f"array {name!r} has a type that is not allowed")
    if (not isinstance(shape, list) or len(shape) > MAX_DIMS
            or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31
                       for n in shape)):
        raise FrameError(f"array {name!r} has a bad shape")
    return name, dtype, tuple(shape)


class Request(NamedTuple):
    """What a request's preamble tells the runner."""

    op: int
    kind: str
    length: int
    #: The most result bytes the job may send back (0: the runner's own limit).
    result_limit: int


def preamble(op: int, payload_length: int = 0, kind: str = KINDS[0],
             result_limit: int = 0) -> bytes:
    """The bytes that open every request."""
    return PREAMBLE.pack(MAGIC, VERSION, op, KINDS.index(kind), payload_length, result_limit)


def parse_preamble(data: bytes) -> Request:
    """The :class:`Request` of a preamble, or :class:`FrameError`."""
    if len(data) != PREAMBLE.size:
        raise FrameError("not a gdlab request")
    magic, version, op, kind, length, result_limit = PREAMBLE.unpack(data)
    if magic != MAGIC or version != VERSION or op not in (OP_RUN, OP_STATUS) or kind >= len(KINDS):
        raise FrameError("not a gdlab request")
    return Request(op, KINDS[kind], length, result_limit)


def chunk(kind: bytes, payload: bytes = b"") -> bytes:
    """One response chunk: ``D`` (result bytes) or ``E`` (the closing JSON)."""
    return CHUNK.pack(kind, len(payload)) + payload
