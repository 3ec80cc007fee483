"""An exercise's own problem in a real browser: a student solves the Himmelblau exercise
on its page, and the reference explorer offers and runs the exercise's problem."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.integration.server import source

from .conftest import paste, shot, wait_for_image

HIMMELBLAU = "himmelblau-momentum/himmelblau"


def test_a_student_solves_the_exercise_with_the_instructors_problem(page: Page) -> None:
    page.goto("/exercises/himmelblau-momentum")
    expect(page.locator("h1")).to_contain_text("Himmelblau")
    expect(page.locator("table")).to_contain_text(HIMMELBLAU)
    paste(page, source("himmelblau-momentum/solution.py"))
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#score")).to_have_text("100")
    # the result's picture becomes charts of its loss curves (curves.json), as for any problem
    expect(page.locator("#result .charts .chart canvas").first).to_be_visible()
    expect(page.locator("#result figure.plot")).to_have_attribute("data-charted", "yes")
    shot(page, "custom-problem-result")


def test_the_reference_explorer_runs_the_exercises_problem(page: Page) -> None:
    page.goto("/reference")
    page.get_by_label("Problem").select_option(HIMMELBLAU)
    page.get_by_label("Optimizer").select_option("sgd")
    page.get_by_label("Learning rates").fill("0.01, 0.03")
    page.get_by_label("Epochs").fill("60")
    with page.expect_navigation():
        page.get_by_role("button", name="Run").click()
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("table.runs caption")).to_contain_text(f"{HIMMELBLAU} with sgd")
    expect(page.locator("figcaption")).to_contain_text("each path over the loss contours")
    assert wait_for_image(page, "figure img")["width"] > 0
    shot(page, "custom-problem-reference")
