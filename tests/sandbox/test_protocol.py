"""Frames: JSON header plus raw float64 buffers; anything forged or oversized is refused."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from grader.sandbox.protocol import MAGIC, FrameError, decode, encode, parse_preamble, preamble


def frame(header: dict, body: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return MAGIC + struct.pack(">I", len(text)) + text + body


def test_round_trip_keeps_values_and_shapes_exactly():
    arrays = {"trajectory_0": np.random.default_rng(0).normal(size=(101, 2)),
              "empty": np.zeros((0, 3)), "batches": np.arange(6).reshape(2, 3)}
    decoded = decode(encode({"status": "ok"}, arrays), max_bytes=1 << 20,
                     dtypes=("<f8", "<i8"))
    assert decoded.header == {"status": "ok"}
    for name, value in arrays.items():
        assert decoded.arrays[name].tolist() == value.tolist()
        assert decoded.arrays[name].shape == value.shape


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "not a gdlab frame"),
        (b"PICKLE" * 4, "not a gdlab frame"),
        (MAGIC + struct.pack(">I", 10**9), "header length"),
        (MAGIC + struct.pack(">I", 4) + b"\xff\xfe{}", "not UTF-8 JSON"),
        (frame([1, 2]), "array table"),  # type: ignore[arg-type]
        (frame({"arrays": [{"name": "../x", "dtype": "<f8", "shape": [1]}]}, b"\0" * 8),
         "bad array name"),
        (frame({"arrays": [{"name": "x", "dtype": "|O", "shape": [1]}]}, b"\0" * 8), "type"),
        (frame({"arrays": [{"name": "x", "dtype": "<i8", "shape": [1]}]}, b"\0" * 8), "type"),
        (frame({"arrays": [{"name": "x", "dtype": "<f8", "shape": [1, 1, 1, 1]}]}, b"\0" * 8),
         "bad shape"),
        (frame({"arrays": [{"name": "x", "dtype": "<f8", "shape": [-1]}]}), "bad shape"),
        (frame({"arrays": [{"name": "x", "dtype": "<f8", "shape": [10**6]}]}, b"\0" * 8),
         "runs past the end"),
        (frame({"arrays": [{"name": "x", "dtype": "<f8", "shape": [1]}]}, b"\0" * 9),
         "trailing bytes"),
        (frame({"arrays": [{"name": "x", "dtype": "<f8", "shape": [0]},
                           {"name": "x", "dtype": "<f8", "shape": [0]}]}), "twice"),
    ],
)
def test_malformed_or_forged_frames_are_refused(data, words):
    with pytest.raises(FrameError, match=words):
        decode(data, max_bytes=1 << 20)


def test_oversized_frames_are_refused_before_parsing():
    data = encode({}, {"x": np.zeros(1000)})
    with pytest.raises(FrameError, match="exceeds the limit"):
        decode(data, max_bytes=len(data) - 1)


def test_decoded_arrays_cannot_be_written_through():
    decoded = decode(encode({}, {"x": np.ones(2)}), max_bytes=1024)
    with pytest.raises(ValueError, match="read-only"):
        decoded.arrays["x"][0] = 5


def test_preambles():
    assert parse_preamble(preamble(1, 123, "schedule"))[:3] == (1, "schedule", 123)
    with pytest.raises(FrameError):
        parse_preamble(b"GDLB" + bytes(12))
