"""The student flow against a running gdlab (the compose smoke test's checks), with requests.

    python tests/deploy/smoke_flow.py submit URL STATE_FILE    list, submit right and wrong,
                                                                 fetch the plot; keep the ids
    python tests/deploy/smoke_flow.py check URL STATE_FILE     the kept submissions are there
    python tests/deploy/smoke_flow.py load URL STATE_FILE N    queue N submissions (202, not
                                                                 waited for), return once the
                                                                 workers are grading them
    python tests/deploy/smoke_flow.py drain URL STATE_FILE     every queued one ends graded

Exit status 0 when every check holds; otherwise the failed check is printed.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
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
    # web has no sandbox of its own: the workers report theirs once their heartbeats run
    deadline = time.monotonic() + 90
    while True:
        health = requests.get(f"{url}/health", timeout=10).json()
        if health["sandbox"]["reachable"] is not None or time.monotonic() > deadline:
            break
        time.sleep(1)
    check(health["status"] == "ok", f"/health is ok ({health['sandbox']['layers_active']})")
    check(health["sandbox"]["runner"] == "workers" and health["sandbox"]["reachable"] is True,
          "the workers report their sandbox container reachable (web has none)")
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
    check(health["queue"]["configured"] and health["queue"]["redis"],
          f"the job queue's Redis answers ({health['queue']['workers']} workers alive)")
    state.write_text(json.dumps({"right": right.json()["id"], "wrong": wrong.json()["id"]}))


def load(url: str, state: Path, count: str) -> None:
    """Queue ``count`` correct submissions from 8 clients without waiting for their grades;
    return once both workers hold a job (so that one can be killed mid-job)."""
    def post(index: int) -> str:
        answer = requests.post(f"{url}/api/v1/submissions?wait=false", timeout=60,
                               json={"exercise": "gd", "code": SOLUTION,
                                     "student": f"load{index % 4}"})
        if answer.status_code != 202:
            raise SystemExit(f"smoke check failed: submission {index} answered "
                             f"{answer.status_code}: {answer.text[:300]}")
        return answer.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(post, range(int(count))))
    check(len(set(ids)) == len(ids), f"{len(ids)} submissions accepted (202) and queued")
    kept = json.loads(state.read_text())
    state.write_text(json.dumps({**kept, "load": ids}))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = requests.get(f"{url}/health", timeout=10).json()
        queue = requests.get(f"{url}/api/v1/queue", timeout=10,
                             headers=_instructor()).json()
        if len(queue["running"]) >= 2:
            check(True, f"{len(queue['running'])} jobs running, {queue['queued']} queued "
                        f"({running['queue']['workers']} workers)")
            return
        time.sleep(0.2)
    raise SystemExit("smoke check failed: the workers never held two jobs at once")


def drain(url: str, state: Path) -> None:
    """Every queued submission ends graded (score 100), the killed worker's job too."""
    ids = json.loads(state.read_text())["load"]
    deadline = time.monotonic() + 300
    left = list(ids)
    while left and time.monotonic() < deadline:
        statuses = {i: requests.get(f"{url}/api/v1/submissions/{i}", timeout=10).json()
                    for i in left}
        bad = {i: s for i, s in statuses.items() if s["status"] in ("failed", "rejected")}
        if bad:
            raise SystemExit(f"smoke check failed: queued submissions failed: {bad}")
        left = [i for i, s in statuses.items() if s["status"] != "graded"]
        if left:
            time.sleep(1)
    if left:  # say what became of them, for whoever reads the failure
        for i in left:
            print(requests.get(f"{url}/api/v1/submissions/{i}", timeout=10,
                               headers=_instructor()).text[:2000])
        print(requests.get(f"{url}/api/v1/queue", timeout=10, headers=_instructor()).text)
    check(not left, f"every one of the {len(ids)} queued submissions was graded "
                    f"({len(left)} left)")
    scores = {requests.get(f"{url}/api/v1/submissions/{i}", timeout=10).json()["score"]
              for i in ids}
    check(scores == {100}, f"each scored 100 ({sorted(scores)})")


def _instructor() -> dict[str, str]:
    import os

    return {"Authorization": f"Bearer {os.environ['GDLAB_INSTRUCTOR_TOKEN']}"}


def still_there(url: str, state: Path) -> None:
    """The submissions made before the restart are still there."""
    kept = json.loads(state.read_text())
    for name in ("right", "wrong"):
        submission_id = kept[name]
        answer = requests.get(f"{url}/api/v1/submissions/{submission_id}", timeout=10)
        check(answer.status_code == 200 and answer.json()["status"] == "graded",
              f"the {name} submission {submission_id} survived the restart")


if __name__ == "__main__":
    command, base, state_file, *rest = sys.argv[1:]
    actions = {"submit": submit, "check": still_there, "load": load, "drain": drain}
    actions[command](base.rstrip("/"), Path(state_file), *rest)
