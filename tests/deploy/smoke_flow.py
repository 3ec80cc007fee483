"""The student flow against a running gdlab (the compose smoke test's checks), with requests.

    python tests/deploy/smoke_flow.py submit URL STATE_FILE    list, submit right and wrong,
                                                                 fetch the plot; keep the ids
    python tests/deploy/smoke_flow.py check URL STATE_FILE     the kept submissions are there

Exit status 0 when every check holds; otherwise the failed check is printed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = (ROOT / "exercises" / "gd" / "solution.py").read_text()
WRONG = (ROOT / "exercises" / "gd" / "mistakes" / "ascent.py").read_text()


def check(condition: bool, what: str) -> None:
    """Stop with ``what`` when ``condition`` is false."""
    if not condition:
        raise SystemExit(f"smoke check failed: {what}")
    print(f"ok  {what}")


def submit(url: str, state: Path) -> None:
    """List the exercises, submit a correct and a wrong solution, fetch the plot."""
    health = requests.get(f"{url}/health", timeout=10).json()
    check(health["status"] == "ok", f"/health is ok ({health['sandbox']['layers_active']})")
    check(health["sandbox"]["reachable"], "the web container reaches the sandbox container")
    exercises = requests.get(f"{url}/api/v1/exercises", timeout=10).json()["items"]
    check(any(e["id"] == "gd" for e in exercises), f"{len(exercises)} exercises listed")
    right = requests.post(f"{url}/api/v1/submissions", timeout=60,
                          json={"exercise": "gd", "code": SOLUTION, "student": "smoke"})
    check(right.status_code == 201 and right.json()["score"] == 100,
          f"a correct solution scores 100 ({right.status_code})")
    wrong = requests.post(f"{url}/api/v1/submissions", timeout=60,
                          json={"exercise": "gd", "code": WRONG, "student": "smoke"})
    diagnosis = [d["id"] for d in wrong.json().get("diagnosis", [])]
    check(wrong.status_code == 201 and wrong.json()["score"] < 100 and "sign-flip" in diagnosis,
          f"a wrong solution scores {wrong.json().get('score')} with {diagnosis}")
    plot = requests.get(f"{url}{right.json()['links']['plot_png']}", timeout=60)
    check(plot.status_code == 200 and plot.headers["Content-Type"] == "image/png"
          and plot.content.startswith(b"\x89PNG\r\n\x1a\n"),
          f"the plot is a real PNG ({len(plot.content)} bytes)")
    page = requests.get(f"{url}/exercises/gd", timeout=10)
    check(page.status_code == 200 and 'id="code"' in page.text
          and requests.get(f"{url}/static/gdlab.css", timeout=10).ok,
          "the web page of an exercise is served, with its stylesheet")
    state.write_text(json.dumps({"right": right.json()["id"], "wrong": wrong.json()["id"]}))


def still_there(url: str, state: Path) -> None:
    """The submissions made before the restart are still there."""
    kept = json.loads(state.read_text())
    for name, submission_id in kept.items():
        answer = requests.get(f"{url}/api/v1/submissions/{submission_id}", timeout=10)
        check(answer.status_code == 200 and answer.json()["status"] == "graded",
              f"the {name} submission {submission_id} survived the restart")


if __name__ == "__main__":
    command, base, state_file = sys.argv[1:4]
    {"submit": submit, "check": still_there}[command](base.rstrip("/"), Path(state_file))
