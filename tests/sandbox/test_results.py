"""A job's result is untrusted input: forged frames of every shape, any bytes at all, and
any text give a verdict with a sentence, never an exception, and cost at most what the
job itself could produce."""

from __future__ import annotations

import dataclasses
import json
import struct
import tracemalloc
import unicodedata
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.limits import SandboxLimits
from grader.sandbox import Job, Sandbox
from grader.sandbox.client import VERDICTS, interpret
from grader.sandbox.protocol import (
    MAGIC,
    MAX_HEADER,
    FrameError,
    decode,
    encode,
    parse_preamble,
    preamble,
)
from grader.sandbox.results import Expected, RunShape, safe_text

from .conftest import TEST_LIMITS, needs_root, rule
from .forgery import CUT_BY_THE_RUNNER, JobShape, forgeries, honest_forgery

STEPS, DIM, RUNS = 6, 2, 3
#: The sandbox's default result limit (32 MiB): large enough that a forged result of
#: two million rows fits in it, so that only the job's own ceiling can cut it.
LIMITS = dataclasses.replace(TEST_LIMITS, result_limit=SandboxLimits().result_limit)
#: What the runner says of a child that exited normally after its set-up.
EXITED = {"exit": {"code": 0, "signal": None}, "killed": None, "ready": True,
          "elapsed": 0.1, "cpu_seconds": 0.1, "slot": 0}


def job_of(kind: str, code: str) -> Job:
    """A job of ``kind`` with RUNS runs of STEPS steps on DIM parameters."""
    runs = [{"x0": [1.0] * DIM, "lrs": [0.1] * STEPS}] * RUNS
    if kind == "update_rule":
        return Job.update_rule(code, problem={"name": "quadratic"}, runs=runs)
    if kind == "gradient":
        return Job.gradient(code, runs=runs, X=np.ones((4, DIM)), y=np.ones(4))
    return Job.schedule(code, runs=[{"lr0": 0.1, "epochs": STEPS}] * RUNS)


SHAPES = {
    "update_rule": JobShape("update_rule", (STEPS,) * RUNS, (DIM,) * RUNS),
    "gradient": JobShape("gradient", (STEPS,) * RUNS, (DIM,) * RUNS),
    "schedule": JobShape("schedule", (STEPS,) * RUNS, (0,) * RUNS),
}
FORGERIES = [(kind, name) for kind, shape in SHAPES.items() for name in forgeries(shape)]


@pytest.fixture(scope="module")
def roomy_sandbox() -> Iterator[Sandbox]:
    """A runner whose own result limit is the default 32 MiB."""
    with Sandbox(LIMITS) as sandbox:
        yield sandbox


# --- forged from inside the student's code, through the real sandbox ----------------------


@needs_root
@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_an_honest_forgery_passes(roomy_sandbox, kind):
    """The control: a forged frame exactly like the harness's own is accepted, so the
    refusals below come from the checks, not from a forgery that never arrived."""
    result = roomy_sandbox.run(job_of(kind, honest_forgery(SHAPES[kind])))
    assert result.verdict == "ok", result.detail
    assert len(result.runs) == RUNS and result.arrays


@needs_root
@pytest.mark.parametrize(("kind", "name"), FORGERIES)
def test_a_forged_result_is_a_verdict_with_a_sentence(roomy_sandbox, kind, name):
    result = roomy_sandbox.run(job_of(kind, forgeries(SHAPES[kind])[name]))
    expected = "output-limit" if name in CUT_BY_THE_RUNNER else "crashed"
    assert result.verdict == expected, (name, result.verdict, result.detail)
    assert result.detail.endswith(".") and len(result.detail) > 20
    assert result.arrays == {} and result.runs == ()


@needs_root
def test_the_runner_cuts_a_result_at_the_jobs_own_ceiling(roomy_sandbox):
    """Two million rows (32 MB) are under the sandbox's 32 MiB limit but far over what a
    job of three six-step runs can return: the runner stops relaying at the job's ceiling."""
    job = job_of("update_rule", forgeries(SHAPES["update_rule"])["two-million-rows"])
    ceiling = job.expected().result_limit(LIMITS)
    assert ceiling < 2_000_000 * DIM * 8 < LIMITS.result_limit
    data, trailer = roomy_sandbox._exchange(1, job.encode(), 30, job.kind, ceiling)
    assert trailer["killed"] == "output-limit"
    assert len(data) <= ceiling


# --- the ceiling of a job ----------------------------------------------------------------


def test_a_jobs_ceiling_grows_with_the_job_and_never_passes_the_sandboxs_limit():
    small = Expected("gradient", (RunShape(10, 2),) * 4)
    large = Expected("gradient", (RunShape(1000, 2),) * 4)
    assert small.array_bytes() == 4 * (11 + 10) * 2 * 8
    assert large.array_bytes() == 4 * (1001 + 1000) * 2 * 8
    assert small.result_limit(LIMITS) < large.result_limit(LIMITS)
    huge = Expected("update_rule", (RunShape(10**9, 10),))
    assert huge.result_limit(LIMITS) == LIMITS.result_limit
    assert small.header_limit(LIMITS) <= MAX_HEADER


def test_the_preamble_carries_the_jobs_ceiling():
    request = parse_preamble(preamble(1, 123, "gradient", 4567))
    assert (request.op, request.kind, request.length, request.result_limit) == (
        1, "gradient", 123, 4567)


def test_a_job_says_what_it_expects():
    expected = job_of("gradient", "").expected()
    assert expected == Expected("gradient", (RunShape(STEPS, DIM),) * RUNS)
    assert job_of("schedule", "").expected().runs == (RunShape(STEPS, 0),) * RUNS


# --- any bytes, any frame: a verdict --------------------------------------------------------

EXPECTED = Expected("update_rule", (RunShape(STEPS, DIM),) * RUNS)


def honest_frame(**header: object) -> bytes:
    """A result frame as the harness writes it for EXPECTED, with header changes."""
    runs = [{"steps": STEPS, "stopped": None, "error": None}] * RUNS
    arrays = {f"trajectory_{i}": np.zeros((STEPS + 1, DIM)) for i in range(RUNS)}
    return encode({"status": "ok", "error": None, "runs": runs, "stdout": "",
                   "stdout_truncated": False, **header}, arrays)


def assert_a_verdict(data: bytes, expected: Expected = EXPECTED) -> None:
    result = interpret(data, EXITED, LIMITS, expected)
    assert result.verdict in VERDICTS and result.detail
    budget = sum(8 * (run.steps + 1) * max(run.dim, 1) for run in expected.runs)
    assert sum(array.nbytes for array in result.arrays.values()) <= budget
    assert len(result.runs) in (0, len(expected.runs))
    for text in (result.stdout, *(r.error.message for r in result.runs if r.error)):
        text.encode("utf-8")  # never a lone surrogate


def test_the_honest_frame_is_accepted():
    result = interpret(honest_frame(), EXITED, LIMITS, EXPECTED)
    assert result.verdict == "ok" and len(result.arrays) == RUNS


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_any_bytes_are_a_verdict(data):
    assert_a_verdict(data)
    assert_a_verdict(MAGIC + data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_damage_to_a_real_frame_is_a_verdict(data):
    frame = bytearray(honest_frame())
    for _ in range(data.draw(st.integers(1, 8))):
        where = data.draw(st.integers(0, len(frame) - 1))
        frame[where] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(frame)))
    assert_a_verdict(bytes(frame[:cut]) + data.draw(st.binary(max_size=64)))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)
SHAPE = st.lists(st.integers(0, 12), min_size=0, max_size=3)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    runs=st.lists(st.fixed_dictionaries({"steps": JSON | st.integers(-2, STEPS + 2),
                                         "stopped": JSON, "error": JSON}), max_size=5)
    | JSON,
    arrays=st.dictionaries(st.sampled_from(["trajectory_0", "trajectory_1", "trajectory_3",
                                            "rates_0", "gradients_0", "x"]), SHAPE,
                           max_size=4),
    status=st.sampled_from(["ok", "error", "memory", "internal", "output-limit"]) | JSON,
    extra=st.dictionaries(st.sampled_from(["stdout", "stdout_truncated", "error", "x"]),
                          JSON),
)
def test_any_well_formed_frame_is_a_verdict(runs, arrays, status, extra):
    """Frames the way a student would forge them: well-formed, with every field of any
    type and arrays of any name and shape."""
    values = {name: np.zeros(shape) for name, shape in arrays.items()}
    assert_a_verdict(encode({"status": status, "runs": runs, **extra}, values))


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_deeply_nested_headers_are_refused(depth):
    text = '{"status": "ok", "arrays": [], "runs": ' + "[" * depth + "]" * depth + "}"
    data = MAGIC + struct.pack(">I", len(text)) + text.encode()
    with pytest.raises(FrameError, match="nested deeper"):
        decode(data, max_bytes=1 << 20)
    assert interpret(data, EXITED, LIMITS, EXPECTED).verdict == "crashed"


def test_shapes_whose_product_overflows_are_refused():
    header = json.dumps({"arrays": [{"name": "x", "dtype": "<f8",
                                     "shape": [2**31 - 1, 2**31 - 1, 2**31 - 1]}]}).encode()
    data = MAGIC + struct.pack(">I", len(header)) + header + b"\0" * 8
    with pytest.raises(FrameError, match="runs past the end"):
        decode(data, max_bytes=1 << 20)


def test_a_header_longer_than_the_jobs_is_refused():
    data = honest_frame(stdout="x" * (EXPECTED.header_limit(LIMITS) + 1))
    with pytest.raises(FrameError, match="header length"):
        decode(data, max_bytes=len(data), max_header=EXPECTED.header_limit(LIMITS))
    assert interpret(data, EXITED, LIMITS, EXPECTED).verdict == "crashed"


@pytest.mark.parametrize(("name", "change"), [
    ("one-dimensional", {"trajectory_0": np.zeros(STEPS + 1)}),
    ("three-dimensional", {"trajectory_0": np.zeros((STEPS + 1, DIM, 1))}),
    ("wrong width", {"trajectory_0": np.zeros((STEPS + 1, DIM + 1))}),
    ("more rows than steps", {"trajectory_0": np.zeros((STEPS + 2, DIM))}),
    ("another kind's array", {"rates_0": np.zeros(STEPS)}),
    ("a run the job does not have", {f"trajectory_{RUNS}": np.zeros((STEPS + 1, DIM))}),
])
def test_arrays_that_do_not_fit_the_job_are_refused(name, change):
    runs = [{"steps": STEPS, "stopped": None, "error": None}] * RUNS
    arrays = {f"trajectory_{i}": np.zeros((STEPS + 1, DIM)) for i in range(RUNS)} | change
    result = interpret(encode({"status": "ok", "runs": runs}, arrays), EXITED, LIMITS,
                       EXPECTED)
    assert result.verdict == "crashed", name
    assert "could not have produced" in result.detail


def test_a_run_that_went_on_without_its_array_is_refused():
    runs = [{"steps": STEPS, "stopped": None, "error": None}] * RUNS
    arrays = {f"trajectory_{i}": np.zeros((STEPS + 1, DIM)) for i in range(RUNS - 1)}
    data = encode({"status": "ok", "runs": runs}, arrays)
    assert interpret(data, EXITED, LIMITS, EXPECTED).verdict == "crashed"
    failed = [*runs[:-1], {"steps": 0, "stopped": "error", "error": None}]
    data = encode({"status": "ok", "runs": failed}, arrays)
    assert interpret(data, EXITED, LIMITS, EXPECTED).verdict == "ok"


def test_more_printed_output_than_the_child_keeps_is_refused():
    fits = honest_frame(stdout="x" * LIMITS.output_limit)
    assert interpret(fits, EXITED, LIMITS, EXPECTED).verdict == "ok"
    beyond = honest_frame(stdout="x" * (LIMITS.output_limit + 1))
    assert interpret(beyond, EXITED, LIMITS, EXPECTED).verdict == "crashed"


@pytest.mark.parametrize("runs", [[], [{"steps": STEPS, "stopped": None, "error": None}] * 4,
                                  [{"steps": STEPS + 1, "stopped": None, "error": None}] * 3,
                                  [{"steps": True, "stopped": None, "error": None}] * 3,
                                  [{"steps": 1, "stopped": "gave up", "error": None}] * 3])
def test_run_reports_that_do_not_fit_the_job_are_refused(runs):
    result = interpret(encode({"status": "ok", "runs": runs}), EXITED, LIMITS, EXPECTED)
    assert result.verdict == "crashed"


def test_a_result_with_no_runs_is_fine_when_the_module_failed_first():
    error = {"type": "NameError", "message": "x", "line": 1, "category": "error"}
    result = interpret(encode({"status": "error", "runs": [], "error": error}), EXITED,
                       LIMITS, EXPECTED)
    assert result.verdict == "error" and result.error.type == "NameError"


def test_interpreting_costs_memory_in_proportion_to_the_job():
    """The largest frames a job of this size may send: a header of its full length made
    of tiny JSON values, and one of printed control characters (six bytes of JSON each).
    What interpreting them allocates stays within a fixed multiple of the job's ceiling."""
    limit = EXPECTED.header_limit(LIMITS)
    filler = json.loads("[" + ",".join(["[]"] * (limit // 3 - 200)) + "]")
    ceiling = EXPECTED.result_limit(LIMITS)
    frames = {"filler": honest_frame(filler=filler),
              "controls": honest_frame(stdout="\x00" * LIMITS.output_limit)}
    verdicts = {}
    for name, data in frames.items():
        assert len(data) <= ceiling
        tracemalloc.start()
        try:
            verdicts[name] = interpret(data, EXITED, LIMITS, EXPECTED).verdict
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 64 * ceiling
    assert verdicts == {"filler": "crashed", "controls": "ok"}


# --- text ------------------------------------------------------------------------------

UNSAFE = {"\x00", "\x1b", "\r", "\x7f", "\x85", "\x9b", "\u202e", "\u2066", "\u200f"}


def assert_safe(text: str, limit: int) -> None:
    data = text.encode("utf-8")  # strict: no lone surrogate
    assert len(data) <= limit
    assert not UNSAFE & set(text)
    assert all(unicodedata.category(c) not in ("Cc", "Cs") or c in "\n\t" for c in text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())),
       st.integers(0, 200))
def test_any_text_becomes_safe_bounded_utf8(text, limit):
    assert_safe(safe_text(text, limit), limit)


def test_safe_text_keeps_ordinary_text_as_it_is():
    text = "loss 0.25\tstep 3\nΔθ = \u22120.1 ✓ 学习率 🙂\n"
    assert safe_text(text, 1000) == text


def test_safe_text_of_what_is_not_text_is_empty():
    assert safe_text(None, 10) == safe_text(b"bytes", 10) == ""


@needs_root
def test_printed_and_raised_text_comes_out_safe(sandbox):
    code = rule(
        'import sys\n'
        'print("a\\ud800b\\udfffc", "nul\\x00", "\\x1b[2J\\x1b[31mred\\x1b]0;title\\x07",'
        ' "\\u202eevil\\u2066", "cr\\rover")\n'
        'print("x" * 30000)\n'
        'class Bad(Exception):\n    pass\n'
        'Bad.__name__ = "Bad\\x1b[0m\\u202e\\x07"\n'
        'raise Bad("message \\udcff\\x00\\x1b[1m" + "y" * 5000)\n')
    result = sandbox.run(Job.update_rule(code, problem={"name": "quadratic"},
                                         runs=[{"x0": [1.0, 1.0], "lrs": [0.1]}]))
    assert result.verdict == "error"
    assert_safe(result.stdout, TEST_LIMITS.output_limit)
    assert "a\ufffdb\ufffdc nul\ufffd red \ufffdevil\ufffd cr\nover" in result.stdout
    assert "x" * 30000 in result.stdout
    assert_safe(result.error.type, 100)
    assert result.error.type == "Bad\ufffd\ufffd"
    assert_safe(result.error.message, 1000)
    assert result.error.message.startswith("message \ufffd\ufffd")
    assert_safe(result.detail, 10_000)
