"""Stop the server, start it again on the same data directory: nothing is lost."""

from __future__ import annotations

import uuid

from tests.integration.conftest import Launch
from tests.integration.server import (
    API,
    ASCENT,
    SOLUTION,
    GdlabServer,
    assert_json_error,
    bearer,
    graded,
    source,
    submit,
)

COURSE = {"problem": "linear-regression", "optimizer": "sgd",
          "learning_rates": [0.05, 0.2], "epochs": 40}


def test_a_restart_keeps_everything(launch: Launch, instructor: dict[str, str]) -> None:
    first = launch(name="persistence")
    name = f"emmy-{uuid.uuid4().hex[:8]}"
    answer = first.post(f"{API}/students", json={"name": name}, headers=instructor)
    assert answer.status_code == 201
    token = answer.json()["token"]
    best = graded(submit(first, source(SOLUTION), headers=bearer(token)))
    latest = graded(submit(first, source(ASCENT), headers=bearer(token)))
    anonymous = graded(submit(first, source(SOLUTION)))
    png = first.get(best["links"]["plot_png"], headers=bearer(token))
    assert png.status_code == 200
    run = first.post(f"{API}/reference/runs", json=COURSE)
    assert run.status_code == 201
    book = first.get(f"{API}/gradebook", headers=instructor).json()["items"]

    assert first.stop() == 0  # SIGTERM: a clean stop, nothing of it left (checked by stop)
    data_dir = first.data_dir

    again: GdlabServer = launch(data_dir=data_dir, name="persistence-again")
    assert again.get("/health").json()["status"] == "ok"
    # the submissions, with their results, for the same token
    for before in (best, latest):
        answer = again.get(before["links"]["self"], headers=bearer(token))
        assert answer.status_code == 200, answer.text
        after = answer.json()
        for key in ("id", "student", "score", "runs", "hidden", "diagnosis", "created_at"):
            assert after[key] == before[key], key
    assert again.get(anonymous["links"]["self"]).json()["score"] == 100
    # still hers only
    assert_json_error(again.get(best["links"]["self"]), 404)
    # the plot kept, byte for byte, and still conditional
    kept = again.get(best["links"]["plot_png"], headers=bearer(token))
    assert kept.status_code == 200 and kept.content == png.content
    assert again.get(best["links"]["plot_png"], headers={
        **bearer(token), "If-None-Match": png.headers["ETag"]}).status_code == 304
    # the gradebook: best 100, latest 0, two submissions
    assert again.get(f"{API}/gradebook", headers=instructor).json()["items"] == book
    (row,) = [row for row in book if row["student"] == name]
    assert (row["best"], row["latest"], row["submissions"]) == (100, 0, 2)
    csv_text = again.get(f"{API}/gradebook.csv", headers=instructor).text
    assert f"{name},gd,100.0,0.0,2," in csv_text
    # the student is still registered, and can still submit
    names = [s["name"] for s in again.get(f"{API}/students", headers=instructor).json()["items"]]
    assert name in names
    assert graded(submit(again, source(SOLUTION), headers=bearer(token)))["student"] == name
    # the reference run is kept: the same request is answered from the store
    cached = again.post(f"{API}/reference/runs", json=COURSE)
    assert cached.status_code == 200
    assert cached.json()["id"] == run.json()["id"] and cached.json()["cached"] is True
    assert again.get(run.json()["links"]["self"]).json()["result"] == run.json()["result"]
    listing = again.get(f"{API}/submissions", params={"student": name}, headers=instructor)
    assert listing.json()["total"] == 3
    assert again.stop() == 0
