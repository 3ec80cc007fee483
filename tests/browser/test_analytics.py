"""The class analytics page in a real browser: an instructor goes from the instructors'
page to an exercise's analytics, sees the numbers, the four figures drawn as charts (read
with the mouse and the keyboard) and the diagnoses, with every request off the gdlab server
blocked; the same page on a phone; without JavaScript, the figures as pictures."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.integration.server import INSTRUCTOR_TOKEN, graded, source, submit

from .conftest import PHONE, assert_accessible, no_horizontal_scroll, shot, wait_for_image
from .test_docs import block_outside
from .test_instructor import sign_in


def test_the_analytics_page(new_context, web_server) -> None:
    tag = uuid.uuid4().hex[:6]
    # four students on adam (no other browser test submits to it): two reach 100
    plan = [("ana", "adam/mistakes/no_bias_correction.py"), ("ana", "adam/solution.py"),
            ("ben", "adam/mistakes/eps_inside.py"), ("cy", "adam/mistakes/forgets_moments.py"),
            ("cy", "adam/mistakes/forgets_moments.py"), ("dee", "adam/solution.py")]
    for student, path in plan:
        graded(submit(web_server, source(path), "adam", student=f"{student}-{tag}"))

    context, _ = new_context()
    blocked = block_outside(context, web_server)
    page = context.new_page()
    page.goto("/login?next=/instructor")
    sign_in(page, INSTRUCTOR_TOKEN)
    page.get_by_role("link", name="Class analytics per exercise").click()
    # the form chooses the exercise (a GET, without JavaScript too)
    page.get_by_label("Exercise").select_option("adam")
    page.get_by_role("button", name="Show").click()
    assert page.url.endswith("/instructor/analytics/adam")
    expect(page.get_by_role("heading", level=1)).to_have_text("Class analytics: Adam")
    expect(page.locator("#students")).to_have_text("4")
    expect(page.locator("#reached")).to_have_text("2")
    expect(page.locator("#median")).to_have_text("1")  # dee at once, ana at her 2nd: nearest rank
    expect(page.locator("#p90")).to_have_text("2")
    diagnoses = page.locator("#diagnoses tbody tr")
    expect(diagnoses.first).to_contain_text("adam-")
    assert "No diagnosis" not in diagnoses.first.inner_text()
    for name in ("scores", "diagnoses", "cases", "hourly"):  # drawn here, no picture asked
        canvas = page.locator(f"#chart-{name} canvas")
        expect(canvas).to_be_visible()
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, (name, box)
        expect(page.locator(f"#plot-{name}")).to_have_count(0)
    # the mouse over the last bar reads it: the students at 100
    scores = page.locator("#chart-scores")
    over = scores.locator(".u-over").bounding_box()
    assert over is not None
    page.mouse.move(over["x"] + over["width"] - 5, over["y"] + over["height"] / 2)
    readout = page.locator("#chart-scores + .readout")
    expect(readout).to_have_text("best score 100: 2 students")
    # the keyboard reads every bar of the cases, from the first
    cases = page.locator("#chart-cases")
    cases.focus()
    page.keyboard.press("Home")
    first_case = page.locator("#cases tbody tr").first.locator("td").first.inner_text()
    expect(page.locator("#chart-cases + .readout")).to_contain_text(first_case)
    page.keyboard.press("ArrowRight")
    expect(page.locator("#chart-cases + .readout")).not_to_contain_text(first_case + ":")
    expect(page.locator("#cases tbody tr")).to_have_count(5)  # every case of adam, by name
    expect(page.locator("#cases")).to_contain_text("hidden")
    assert_accessible(page)
    assert blocked == [], f"the page asked for outside addresses: {blocked}"
    shot(page, "analytics")

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("#chart-hourly canvas")).to_be_visible()
    assert no_horizontal_scroll(page)
    shot(page, "phone-analytics")


def test_the_analytics_figures_without_javascript_are_pictures(new_context,
                                                                web_server) -> None:
    graded(submit(web_server, source("adam/solution.py"), "adam",
                  student=f"nojs-{uuid.uuid4().hex[:6]}"))
    context, _ = new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto("/login?next=/instructor/analytics/adam")
    sign_in(page, INSTRUCTOR_TOKEN)
    assert page.url.endswith("/instructor/analytics/adam")
    for name in ("scores", "diagnoses", "cases", "hourly"):
        size = wait_for_image(page, f"#plot-{name}")
        assert size["width"] > 300 and size["height"] > 100, (name, size)
    assert_accessible(page)
    shot(page, "analytics-no-javascript")
