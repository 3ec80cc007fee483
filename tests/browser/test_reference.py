"""The reference explorer in a real browser: choose an optimizer and learning rates, run,
see the outcomes and the plot, follow the 'as JSON' link; bad input is shown."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .conftest import shot, wait_for_image


def test_the_reference_explorer(page: Page) -> None:
    page.goto("/reference")
    shot(page, "reference-empty")
    page.get_by_label("Problem").select_option("quadratic")
    page.get_by_label("Optimizer").select_option("adam")
    page.get_by_label("Learning rates").fill("0.01, 0.1, 0.5")
    page.get_by_label("Epochs").fill("60")
    with page.expect_navigation():
        page.get_by_role("button", name="Run").click()

    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.locator("td:first-child")).to_have_text(["0.01", "0.1", "0.5"])
    expect(page.locator("table.runs caption")).to_contain_text("quadratic with adam, 60 epochs")
    expect(page.get_by_label("Optimizer")).to_have_value("adam")  # the form keeps the query
    size = wait_for_image(page, "figure img")
    assert size["width"] > 0 and size["height"] > 0
    assert "0.01" in (page.locator("figure img").get_attribute("alt") or "")
    shot(page, "reference")

    with page.expect_response(lambda r: "/api/v1/reference/runs/" in r.url) as answer:
        page.get_by_role("link", name="This run as JSON").click()
    assert answer.value.status == 200
    body = answer.value.json()
    assert body["result"]["optimizer"] == "adam"
    assert body["result"]["problem"] == "quadratic"
    assert [run["lr"] for run in body["result"]["runs"]] == [0.01, 0.1, 0.5]


def test_bad_input_to_the_reference_explorer_is_shown(page: Page) -> None:
    page.goto("/reference")
    page.get_by_label("Learning rates").fill("fast, faster")
    with page.expect_navigation():
        page.get_by_role("button", name="Run").click()
    expect(page.get_by_role("alert")).to_contain_text("learning_rates")
    expect(page.get_by_label("Learning rates")).to_have_value("fast, faster")
    expect(page.locator("table.runs")).to_have_count(0)
    shot(page, "reference-error")
