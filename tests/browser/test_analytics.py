"""The class analytics page in a real browser: an instructor goes from the instructors'
page to an exercise's analytics, sees the numbers, the four figures (loaded, not broken
images) and the diagnoses; the same page on a phone."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.integration.server import INSTRUCTOR_TOKEN, graded, source, submit

from .conftest import PHONE, no_horizontal_scroll, shot, wait_for_image
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
    for name in ("scores", "diagnoses", "cases", "hourly"):
        size = wait_for_image(page, f"#plot-{name}")
        assert size["width"] > 300 and size["height"] > 100, (name, size)
    expect(page.locator("#cases tbody tr")).to_have_count(5)  # every case of adam, by name
    expect(page.locator("#cases")).to_contain_text("hidden")
    shot(page, "analytics")

    page.set_viewport_size(PHONE)
    page.reload()
    assert no_horizontal_scroll(page)
    shot(page, "phone-analytics")
