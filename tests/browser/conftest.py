"""Fixtures of the browser tests: one real gdlab server (``gdlab serve``, as the integration
tests start it) and one headless Chromium from Debian's package, driven by Playwright.

The browser is ``/usr/bin/chromium`` (``tests/install-test-packages.sh``, run by
``make test``, installs it); Playwright never downloads one. Every page a test looks at
can be saved with ``shot`` into ``tests/browser/screenshots/`` (git-ignored) for a person
to look at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.integration.server import GdlabServer

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
#: Seconds a page may take to show a grade (the first grading starts the sandbox's slots).
GRADING_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GdlabServer]:
    """``gdlab serve`` on a free port: its own data directory, the integration tests'
    instructor token, no rate limit, open submissions."""
    server = GdlabServer(tmp_path_factory.mktemp("browser-data"),
                         tmp_path_factory.getbasetemp() / "browser-server.log",
                         env={"GDLAB_RATE_LIMIT": "off"})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium (``--no-sandbox``: the tests run as root)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash tests/install-test-packages.sh` "
                    "(Debian's chromium; the browser tests never download one)")
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                          args=["--no-sandbox"])
    expect.set_options(timeout=GRADING_TIMEOUT_MS)
    yield chromium
    chromium.close()


@dataclass
class Watched:
    """What went wrong in a context's pages that no assertion looks at: script errors,
    console errors, requests that failed or were answered with an error status (but those
    a test said it expects, see :func:`expect_status`), dialogs (a student's ``alert(1)``
    would be one; confirmations are accepted, the others dismissed)."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    expected: set[tuple[int, str]] = field(default_factory=set)

    def response(self, status: int, url: str) -> None:
        """Note an answer of ``status`` to ``url``."""
        path = urlsplit(url).path
        if status >= 400 and (status, path) not in self.expected:
            self.errors.append(f"HTTP {status}: {path}")


#: Each page's record (see ``new_context``).
WATCHED: dict[Page, Watched] = {}


def watch(page: Page, watched: Watched) -> None:
    """Record what goes wrong in ``page`` into ``watched``."""
    WATCHED[page] = watched
    page.on("pageerror", lambda error: watched.errors.append(f"script error: {error}"))
    # a load answered with an error is reported by status and path below, not here
    page.on("console", lambda message: watched.errors.append(f"console: {message.text}")
            if message.type == "error" and "Failed to load resource" not in message.text
            else None)
    # (a load cut short by leaving the page is no failure)
    page.on("requestfailed", lambda request: watched.errors.append(
        f"request failed: {request.url} ({request.failure})")
        if request.failure != "net::ERR_ABORTED" else None)
    page.on("response", lambda response: watched.response(response.status, response.url))

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        watched.dialogs.append(f"{dialog.type}: {dialog.message}")
        if dialog.type == "confirm":
            dialog.accept()  # the student says yes
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)


def expect_status(page: Page, status: int, path: str) -> None:
    """Tell ``page``'s watcher that ``path`` answering ``status`` is what the test wants."""
    WATCHED[page].expected.add((status, path))


def dialogs_of(page: Page) -> list[str]:
    """The dialogs ``page``'s context opened so far."""
    return WATCHED[page].dialogs


def watched_contexts(browser: Browser, base: str
                     ) -> Iterator[Callable[..., tuple[BrowserContext, Watched]]]:
    """Yield a maker of browser contexts of the server at ``base`` (Playwright's options,
    e.g. ``java_script_enabled=False``); at the end, close them all and fail if one of their
    pages had an error it did not expect. (The body of the context fixtures.)"""
    made: list[tuple[BrowserContext, Watched]] = []

    def make(**options) -> tuple[BrowserContext, Watched]:  # type: ignore[no-untyped-def]
        options.setdefault("viewport", LAPTOP)
        context = browser.new_context(base_url=base, **options)
        watched = Watched()
        context.on("page", lambda page: watch(page, watched))
        made.append((context, watched))
        return context, watched

    yield make
    problems = [f"{problem}" for _, watched in made for problem in watched.errors]
    for context, _ in made:
        for page in context.pages:
            WATCHED.pop(page, None)
        context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def new_context(browser: Browser, web_server: GdlabServer
                ) -> Iterator[Callable[..., tuple[BrowserContext, Watched]]]:
    """Make a browser context of the server (``new_context(**options)``: Playwright's
    options, e.g. ``java_script_enabled=False``); closed after the test, which fails if
    one of its pages had an error it did not expect."""
    yield from watched_contexts(browser, web_server.base)


@pytest.fixture
def page(new_context) -> Page:  # type: ignore[no-untyped-def]
    """A laptop-sized page with JavaScript."""
    context, _ = new_context()
    return context.new_page()


def shot(page: Page, name: str) -> Path:
    """Save the whole page as ``screenshots/<name>.png`` (its lazy images loaded first);
    also check the page's accessibility basics (see :func:`assert_accessible`)."""
    path = save_screenshot(page, name)
    assert_accessible(page)
    return path


def save_screenshot(page: Page, name: str) -> Path:
    """Save the whole page as ``screenshots/<name>.png`` (its lazy images loaded first), and
    check nothing: for a page whose markup is not ours (Swagger UI's); ours go through
    :func:`shot`."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    # (a promise, not wait_for_function: its polling evaluates a string, which the pages'
    # Content-Security-Policy refuses as eval)
    page.evaluate("() => Promise.all([...document.images].filter(i => !i.complete).map("
                  "i => new Promise(done => { i.addEventListener('load', done);"
                  " i.addEventListener('error', done); })))")
    page.screenshot(path=str(path), full_page=True)
    return path


# --- accessibility facts, read from the DOM ---------------------------------------------------

_UNLABELLED = """() => [...document.querySelectorAll('input, textarea, select')]
  .filter(e => e.type !== 'hidden')
  .filter(e => !(e.labels && [...e.labels].some(l => l.textContent.trim()))
               && !(e.getAttribute('aria-label') || '').trim()
               && !e.getAttribute('aria-labelledby'))
  .map(e => e.outerHTML.slice(0, 120))"""

_NO_ALT = """() => [...document.querySelectorAll('img')]
  .filter(e => !(e.getAttribute('alt') || '').trim())
  .map(e => e.outerHTML.slice(0, 120))"""

_NAMELESS_CONTROLS = """() => [...document.querySelectorAll('button, a[href]')]
  .filter(e => !(e.textContent.trim() || e.getAttribute('aria-label')))
  .map(e => e.outerHTML.slice(0, 120))"""

#: Text whose contrast with its background is under WCAG AA: 4.5:1, or 3:1 for large text
#: (24 px, or 18.66 px bold). The background is the first opaque one up the tree.
_LOW_CONTRAST = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = e => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const e of document.querySelectorAll('body *')) {
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || e.closest('[disabled]')) continue;
    const style = getComputedStyle(e);
    const box = e.getBoundingClientRect();
    if (style.visibility === 'hidden' || style.display === 'none' || box.width === 0
        || box.right < 0 || box.bottom < 0) continue;
    const [l1, l2] = [lum(rgb(style.color).slice(0, 3)), lum(background(e))].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const text = e.textContent.trim().slice(0, 40);
    if (ratio < needed) bad.push(`${e.tagName} "${text}": ${ratio.toFixed(2)}`);
  }
  return bad;
}"""


def assert_accessible(page: Page) -> None:
    """Every form field has a label, every image a text alternative, every button and link
    a name, and all text AA contrast."""
    assert page.evaluate(_UNLABELLED) == [], f"fields without a label on {page.url}"
    assert page.evaluate(_NO_ALT) == [], f"images without alt text on {page.url}"
    assert page.evaluate(_NAMELESS_CONTROLS) == [], f"buttons or links without a name on {page.url}"
    assert page.evaluate(_LOW_CONTRAST) == [], f"text under AA contrast on {page.url}"
    assert page.locator("html").get_attribute("lang") == "en"
    assert re.search(r"\S", page.title()), "a page without a title"


def wait_for_image(page: Page, selector: str) -> dict[str, int]:
    """Scroll the image into view (it loads lazily), wait until it has loaded, and return
    its natural size (0 x 0 for an image that failed to load)."""
    image = page.locator(selector)
    image.scroll_into_view_if_needed()
    image.evaluate("(i) => i.complete || new Promise(done => { i.addEventListener('load', done);"
                   " i.addEventListener('error', done); })")
    return image.evaluate("(e) => ({width: e.naturalWidth, height: e.naturalHeight})")


def no_horizontal_scroll(page: Page) -> bool:
    """Whether the page fits the viewport's width (the tables scroll inside themselves)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= window.innerWidth")


# --- the code editor (CodeMirror over the form's textarea) ------------------------------------


def paste(page: Page, code: str) -> None:
    """Replace the editor's code with ``code`` as a paste from the clipboard does."""
    editor(page).focus()
    page.keyboard.press("Control+a")
    page.evaluate("""(text) => {
        const data = new DataTransfer();
        data.setData("text/plain", text);
        document.activeElement.dispatchEvent(new ClipboardEvent("paste", {
            clipboardData: data, bubbles: true, cancelable: true}));
    }""", code)


def editor(page: Page) -> Locator:
    """The code editor (what a screen reader calls the "Python code" text box)."""
    return page.get_by_role("textbox", name="Python code")


def sent_code(page: Page) -> Locator:
    """The form's textarea: what the form sends (the editor keeps it in sync)."""
    return page.locator("textarea#code")


def editor_on_screen(page: Page) -> None:
    """Scroll the editor into view and wait until its line numbers line up with its lines
    (it measures its lines once it is on the screen: a screenshot of a page not scrolled
    would show them with the height it guessed)."""
    page.locator(".cm-editor").scroll_into_view_if_needed()
    page.evaluate("""() => new Promise(done => {
        const top = (selector, i) => document.querySelectorAll(selector)[i]
            .getBoundingClientRect().top;
        const look = () => Math.abs(top('.cm-gutterElement', 2) - top('.cm-line', 1)) < 4
            ? done() : requestAnimationFrame(look);
        look();
    })""")
