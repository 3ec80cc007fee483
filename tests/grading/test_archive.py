"""grader.archive: a sandbox job's result packed to bytes and back, and bytes that are not
one refused."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from grader.archive import ArchiveError, pack, pack_parts, unpack, unpack_parts
from grader.sandbox.client import JobResult, RunReport, StudentError


def full_result() -> JobResult:
    rng = np.random.default_rng(3)
    error = StudentError("ZeroDivisionError", "division by zero", 7, "error")
    return JobResult(
        verdict="error", detail="Your code raised ZeroDivisionError on line 7.",
        runs=(RunReport(100, None, None), RunReport(12, "error", error),
              RunReport(0, "non-finite", None)),
        arrays={"trajectory_0": rng.standard_normal((101, 2)),
                "trajectory_1": np.array([[1.0, np.nan], [np.inf, -np.inf]]),
                "trajectory_2": np.zeros((0, 3)),
                "lrs": np.array([0.1, 0.5])},
        stdout="step 1\nstep 2 é\n", stdout_truncated=True, error=error,
        elapsed=0.0123, cpu_seconds=0.01, slot=1)


def test_a_packed_result_unpacks_to_the_same_result():
    result = full_result()
    back = unpack(pack(result))
    assert (back.verdict, back.detail, back.stdout, back.stdout_truncated) == (
        result.verdict, result.detail, result.stdout, result.stdout_truncated)
    assert (back.elapsed, back.cpu_seconds, back.slot) == (0.0123, 0.01, 1)
    assert back.runs == result.runs
    assert back.runs[1].error == StudentError("ZeroDivisionError", "division by zero", 7,
                                            "error")
    assert back.error == result.error
    assert set(back.arrays) == set(result.arrays)
    for name, array in result.arrays.items():
        assert back.arrays[name].dtype == np.float64
        assert back.arrays[name].shape == array.shape
        np.testing.assert_array_equal(back.arrays[name], array)  # bit for bit, NaN included


def test_the_parts_of_a_submission_unpack_to_the_same_results():
    visible, hidden = full_result(), JobResult("timeout", "Too long.", stdout="secret 0.85")
    back = unpack_parts(pack_parts({"visible": visible, "hidden": hidden}))
    assert list(back) == ["visible", "hidden"]
    assert back["hidden"].stdout == "secret 0.85" and back["hidden"].verdict == "timeout"
    assert back["visible"].runs == visible.runs and back["visible"].error == visible.error
    for name, array in visible.arrays.items():
        np.testing.assert_array_equal(back["visible"].arrays[name], array)


def test_a_single_result_kept_before_the_split_reads_as_the_whole():
    back = unpack_parts(pack(full_result()))
    assert list(back) == ["whole"] and back["whole"].stdout == full_result().stdout
    with pytest.raises(ArchiveError):
        unpack(pack_parts({"visible": full_result()}))  # not a single result


def test_a_result_without_error_or_arrays():
    result = JobResult("timeout", "Your code ran out of time.")
    back = unpack(pack(result))
    assert back.verdict == "timeout" and back.error is None
    assert back.arrays == {} and back.runs == ()


def test_integer_arrays_are_kept_as_float64():
    back = unpack(pack(JobResult("ok", "Ran.", arrays={"t": np.arange(6).reshape(3, 2)})))
    assert back.arrays["t"].dtype == np.float64
    np.testing.assert_array_equal(back.arrays["t"], np.arange(6.0).reshape(3, 2))


def _npz(**members: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **members)
    return buffer.getvalue()


def _meta(**fields) -> np.ndarray:
    return np.frombuffer(json.dumps(fields).encode(), dtype=np.uint8)


def _pickled_npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array([{"a": 1}], dtype=object))
    return buffer.getvalue()


def _zip_with(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("data", [
    pytest.param(b"", id="empty"),
    pytest.param(b"not an archive at all", id="text"),
    pytest.param(bytes(range(256)) * 4, id="garbage"),
    pytest.param(b"PK\x03\x04" + b"\x00" * 60, id="broken-zip"),
    pytest.param(pack(JobResult("ok", "Ran."))[:-10], id="truncated"),
    pytest.param(_npz(trajectory_0=np.zeros(3)), id="no-meta"),
    pytest.param(_npz(__meta__=np.frombuffer(b"{not json", dtype=np.uint8)), id="meta-not-json"),
    pytest.param(_npz(__meta__=_meta(verdict="ok")), id="meta-incomplete"),
    pytest.param(_pickled_npz(), id="pickled-object"),
    pytest.param(_zip_with("__meta__.npy", b"\x93NUMPY garbage"), id="bad-npy"),
])
def test_bytes_that_are_not_a_packed_result_are_an_archive_error(data):
    with pytest.raises(ArchiveError, match="not a stored job result"):
        unpack(data)
