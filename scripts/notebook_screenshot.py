"""Make docs/notebook-result.png, the README's picture of what a student sees in a notebook.

What it does, with the real parts: start ``gdlab serve`` on a free port (as the
integration tests do), write the Adam exercise's notebook (``gdlab exercises notebook``'s
builder), put a known mistake in its starter cell (Adam without bias correction, so that
the picture has a diagnosis), execute it on ipykernel's ``python3`` kernel with nbclient,
render it with nbconvert's HTML exporter, and shoot the starter cell down to the result in
Debian's headless Chromium (Playwright, as tests/browser does; nothing is downloaded, and
the page's requests to the network are refused). The PNG is reduced to 128 colours.

Run from the repository root (``make setup`` first)::

    .venv/bin/python scripts/notebook_screenshot.py [--output docs/notebook-result.png]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' server helper, run as a plain script

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from gdlab.notebook import build_notebook  # noqa: E402
from grader.catalog import load_catalog  # noqa: E402
from tests.integration.server import GdlabServer  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
EXERCISE = "adam"
MISTAKE = "adam-no-bias-correction"
WIDTH = 1100


def executed_notebook(server: str, home: Path) -> nbformat.NotebookNode:
    """The exercise's notebook, its starter cell holding the mistake, executed."""
    exercise = load_catalog().get(EXERCISE)
    book = build_notebook(exercise.describe(full=True))
    mistake = next(m for m in exercise.mistakes if m.diagnosis == MISTAKE)
    starter = next(c for c in book.cells if "gdlab-starter" in c.metadata["tags"])
    starter.source = mistake.source.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GDLAB_")}
    env.update({"GDLAB_SERVER": server, "HOME": str(home)})
    NotebookClient(book, kernel_name="python3", timeout=120).execute(env=env, cwd=str(home))
    return book


def shoot(page_path: Path, output: Path) -> None:
    """Screenshot the page from the starter cell to the end of the submit cell's output."""
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        page.route("http*://**", lambda route: route.abort())  # no CDN: offline on purpose
        page.goto(page_path.as_uri(), wait_until="load")
        cells = page.locator(".jp-Cell")
        first = cells.nth(3).bounding_box()  # the starter (statement, contract, set-up first)
        last = cells.last.bounding_box()
        assert first is not None and last is not None
        page.set_viewport_size({"width": WIDTH, "height": int(last["y"] + last["height"]) + 20})
        page.screenshot(path=str(output), full_page=True, clip={
            "x": 0, "y": first["y"] - 2, "width": WIDTH,
            "height": last["y"] + last["height"] - first["y"] + 10})
        browser.close()
    with Image.open(output) as image:
        image.convert("RGB").quantize(colors=128).save(output, optimize=True)


def main() -> int:
    """Start a server, execute, render, shoot; print where the picture went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "notebook-result.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        server = GdlabServer(work, work / "server.log", env={"GDLAB_RATE_LIMIT": "off"})
        server.start()
        try:
            book = executed_notebook(server.base, work)
        finally:
            server.stop()
        body, _ = HTMLExporter(template_name="lab").from_notebook_node(book)
        page = work / "notebook.html"
        page.write_text(body, encoding="utf-8")
        shoot(page, args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
