"""The format checks catch what the platforms' documentation forbids (else the platform
tests could pass on results the platforms would refuse)."""

from __future__ import annotations

import pytest

from tests.platforms.spec import (
    gradescope_problems,
    prairielearn_info_problems,
    prairielearn_problems,
    strict_json,
)


def test_gradescope_checks_types_statuses_and_visibilities():
    assert gradescope_problems({"score": 1.0, "tests": []}) == []
    assert gradescope_problems({"score": "1", "output_format": "pdf", "colour": 1,
                                "tests": [{"status": "ok", "visibility": "soon"}]}) == [
        "unknown top-level key 'colour'", "score is not a number",
        "output_format 'pdf' is not one of ['ansi', 'html', 'md', 'simple_format', 'text']",
        "tests[0]: status 'ok' is not one of ['failed', 'passed']",
        "tests[0]: visibility 'soon' is not one of "
        "['after_due_date', 'after_published', 'hidden', 'visible']"]
    assert gradescope_problems({"tests": [{"name": "no score"}]}) == [
        "no top-level score and not every test has one"]


def test_prairielearn_checks_score_range_images_and_size():
    assert prairielearn_problems({"gradable": False, "format_errors": ["x"]}) == []
    assert prairielearn_problems({"score": 1.5, "images": [{"url": "https://x/y.png"}],
                                  "tests": [{"points": "1"}]}, size=2_000_000) == [
        "2000000 bytes, over PrairieLearn's 1 MB", "score 1.5 is not in [0, 1]",
        "images[0].url is not a base64 data URL of an image", "tests[0].points is not a number"]
    assert prairielearn_problems({"gradable": True}) == ["a gradable result has no numeric score"]


def test_prairielearn_info_follows_the_question_schema():
    info = {"uuid": "3551731f-b6b4-4afc-b1f8-a8a4f7f73bcc", "title": "t", "topic": "x",
            "type": "v3", "gradingMethod": "External",
            "externalGradingOptions": {"image": "a/b", "entrypoint": "/grade/tests/run.sh",
                                       "timeoutSec": 5}}
    assert prairielearn_info_problems(info) == [
        "externalGradingOptions: unknown key 'timeoutSec'"]


def test_nan_is_not_json():
    with pytest.raises(ValueError, match="NaN is not JSON"):
        strict_json('{"score": NaN}')
