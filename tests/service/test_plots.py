"""Plots of submissions: drawn on first request, kept, answered conditionally."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.models import Plot, Submission

from .conftest import API, assert_error, services_of, source, submit

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def graded_id(client):
    return submit(client, "gd", source("gd", "mistakes/forgot_lr.py")).get_json()["id"]


def kept_plots(app) -> dict[str, Plot]:
    with services_of(app).db.session() as session:
        return {plot.key: plot for plot in session.scalars(select(Plot))}


def test_the_png_plot_is_a_png_kept_and_served_from_the_store(client, app, graded_id,
                                                              monkeypatch):
    url = f"{API}/submissions/{graded_id}/plot.png"
    first = client.get(url)
    assert first.status_code == 200
    assert first.mimetype == "image/png"
    assert first.data.startswith(PNG_MAGIC) and len(first.data) > 10_000
    assert first.headers["ETag"].strip('"')
    assert "max-age" in first.headers["Cache-Control"]
    kept = kept_plots(app)[f"submission:{graded_id}:png"]
    assert kept.data == first.data and kept.media_type == "image/png"
    assert first.headers["ETag"] == f'"{kept.etag}"'

    # drawn once: the second request never draws (nor grades) again
    def no_drawing(*args, **kwargs):
        raise AssertionError("drew the plot again")

    monkeypatch.setattr("service.submission_store.plot_grade", no_drawing)
    monkeypatch.setattr(services_of(app).grader, "assess", no_drawing)
    second = client.get(url)
    assert second.status_code == 200 and second.data == first.data
    assert second.headers["ETag"] == first.headers["ETag"]


def test_the_svg_plot_is_svg(client, graded_id):
    response = client.get(f"{API}/submissions/{graded_id}/plot.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    head = response.data[:200].lstrip()
    assert head.startswith((b"<?xml", b"<svg"))
    assert b"<svg" in response.data[:2000]


def test_if_none_match_gives_304(client, graded_id):
    url = f"{API}/submissions/{graded_id}/plot.png"
    etag = client.get(url).headers["ETag"]
    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.data == b""
    assert response.headers["ETag"] == etag
    other = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.data.startswith(PNG_MAGIC)


@pytest.mark.parametrize("fmt", ["gif", "pdf", "PNG", "png.exe"])
def test_an_unknown_format_is_a_json_404(client, graded_id, fmt):
    body = assert_error(client.get(f"{API}/submissions/{graded_id}/plot.{fmt}"), 404)
    if fmt == "gif":
        assert "png" in body["message"] and "svg" in body["message"]


def test_a_rejected_submission_has_no_plot(client, app):
    response = submit(client, "gd", "def update(:\n")
    public_id = response.headers["X-Submission-Id"]
    body = assert_error(client.get(f"{API}/submissions/{public_id}/plot.png"), 409)
    assert "rejected" in body["message"]
    assert f"submission:{public_id}:png" not in kept_plots(app)


def test_the_plot_of_an_unknown_submission_is_a_404(client):
    assert_error(client.get(f"{API}/submissions/nothing-here-123/plot.png"), 404)


@pytest.mark.parametrize(("change", "words"), [
    ({"job": b""}, "damaged"),
    ({"job": b"PK\x03\x04 not really a zip"}, "damaged"),
    ({"exercise_version": 99}, "no longer loaded"),
])
def test_a_submission_that_cannot_be_drawn_again_is_a_409(client, app, change, words):
    public_id = submit(client, "gd", source("gd")).get_json()["id"]
    with services_of(app).db.session() as session:
        row = session.scalars(select(Submission).where(Submission.public_id == public_id)).one()
        for name, value in change.items():
            setattr(row, name, value)
    body = assert_error(client.get(f"{API}/submissions/{public_id}/plot.svg"), 409)
    assert words in body["message"]
