"""The API's documentation page (Swagger UI) in a browser cut off from everything but the
gdlab server, as on a closed campus network or offline: it still renders every operation,
because its scripts and styles come from the server itself (service/static/swagger-ui)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Route, expect

from tests.integration.server import GdlabServer

from .conftest import Watched, save_screenshot

DOCS = "/api/v1/docs"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def block_outside(context: BrowserContext, server: GdlabServer) -> list[str]:
    """Abort every request of ``context`` to a host other than ``server``'s; returns the list
    the blocked addresses are appended to. (Aborted as a cancelled load, which the pages'
    watcher lets pass: the list is what the tests look at.)"""
    local = urlsplit(server.base).netloc
    blocked: list[str] = []

    def handle(route: Route) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("aborted")

    context.route("**/*", handle)
    return blocked


def operations(server: GdlabServer) -> list[tuple[str, str]]:
    """(method, path) of every operation the server's OpenAPI document describes."""
    document = server.get("/api/v1/openapi.json").json()
    return [(method, path) for path, item in document["paths"].items()
            for method in item if method in METHODS]


def test_the_docs_page_renders_every_operation_offline(
        new_context: Callable[..., tuple[BrowserContext, Watched]],
        web_server: GdlabServer) -> None:
    context, _ = new_context()
    blocked = block_outside(context, web_server)
    page = context.new_page()
    page.goto(DOCS)

    documented = operations(web_server)
    assert ("post", "/api/v1/submissions") in documented
    expect(page.locator(".opblock")).to_have_count(len(documented))
    submit = page.locator(".opblock-post").filter(
        has=page.locator('.opblock-summary-path[data-path="/api/v1/submissions"]'))
    expect(submit).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("gdlab")
    submit.locator(".opblock-summary-control").click()  # the operation opens: its schema shows
    expect(submit.locator(".opblock-body")).to_contain_text("exercise")
    page.wait_for_load_state("networkidle")
    save_screenshot(page, "docs-offline")
    assert blocked == [], f"the docs page asked for outside addresses: {blocked}"


def test_the_blocking_catches_an_outside_request(
        new_context: Callable[..., tuple[BrowserContext, Watched]],
        web_server: GdlabServer) -> None:
    context, _ = new_context()
    blocked = block_outside(context, web_server)
    page = context.new_page()
    # the docs page: the other pages' Content-Security-Policy would refuse the load first
    page.goto(DOCS)
    cdn = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
    with page.expect_event("requestfailed", lambda request: request.url == cdn,
                           timeout=10_000):
        page.evaluate("(href) => { const l = document.createElement('link');"
                      " l.rel = 'stylesheet'; l.href = href; document.head.append(l); }", cdn)
    assert blocked == [cdn]
