"""The pages a student finds first: the exercises, and an address that leads nowhere; and
the accessibility checks every screenshot runs, shown to catch what they look for."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.integration.server import EXERCISES

from .conftest import assert_accessible, expect_status, shot


def test_the_index_lists_the_exercises(page: Page) -> None:
    page.goto("/")
    cards = page.locator("ul.cards li")
    bundled = [d.name for d in EXERCISES.iterdir() if (d / "exercise.toml").is_file()]
    expect(cards).to_have_count(len(bundled))
    shot(page, "index")
    page.get_by_role("link", name="Gradient descent", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Gradient descent")
    assert page.url.endswith("/exercises/gd")


def test_an_unknown_address_is_an_html_page(page: Page) -> None:
    expect_status(page, 404, "/exercises/no-such-exercise")
    answer = page.goto("/exercises/no-such-exercise")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("404 Not Found")
    page.get_by_role("link", name="Back to the exercises").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Exercises")
    page.go_back()
    shot(page, "not-found")


@pytest.mark.parametrize(("markup", "finding"), [
    ('<label>Name</label><input id="x">', "fields without a label"),
    ('<img src="data:," alt=" ">', "images without alt text"),
    ('<button type="button"></button>', "buttons or links without a name"),
    ('<p style="color: #999">light grey on white</p>', "text under AA contrast"),
    ('<p style="color: #fff; background: #f9a825">white on yellow</p>', "text under AA contrast"),
])
def test_the_accessibility_checks_catch_what_they_look_for(page: Page, markup: str,
                                                           finding: str) -> None:
    page.set_content(f'<!doctype html><html lang="en"><title>t</title><body>{markup}</body>'
                     '</html>')
    with pytest.raises(AssertionError, match=finding):
        assert_accessible(page)
