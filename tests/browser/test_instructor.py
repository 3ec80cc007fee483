"""An instructor in a real browser: signing in (a wrong token first), the submissions and
the gradebook, the CSV download, a student's code, signing out; and the instructors' page
on a phone."""

from __future__ import annotations

import csv
import io
import re
import uuid

from playwright.sync_api import Page, expect

from tests.integration.server import INSTRUCTOR_TOKEN, SOLUTION, source

from .conftest import PHONE, expect_status, no_horizontal_scroll, paste, shot


def sign_in(page: Page, token: str) -> None:
    """Type ``token`` into the sign-in form and press Enter."""
    page.get_by_label("Token").fill(token)
    with page.expect_navigation():
        page.get_by_label("Token").press("Enter")


def test_the_instructor_flow(new_context) -> None:
    # a student's submission, made in their own browser
    student = f"grace-{uuid.uuid4().hex[:8]}"
    context, _ = new_context()
    page = context.new_page()
    page.goto("/exercises/gd")
    page.get_by_label("Your name").fill(student)
    paste(page, source(SOLUTION))
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#score")).to_have_text("100")
    context.close()

    context, _ = new_context()
    page = context.new_page()
    page.goto("/instructor")
    assert page.url.endswith("/login?next=/instructor")  # asked to sign in first
    shot(page, "login")
    expect_status(page, 401, "/login")
    sign_in(page, "not-the-instructors-token")
    expect(page.get_by_role("alert")).to_contain_text("This token is not valid")
    shot(page, "login-refused")
    sign_in(page, INSTRUCTOR_TOKEN)
    assert page.url.endswith("/instructor")
    expect(page.locator(".top")).to_contain_text("Signed in as an instructor")

    row = page.locator("#gradebook tbody tr", has_text=student)
    expect(row).to_have_count(1)
    assert row.locator("td").all_inner_texts()[:5] == [student, "gd", "100", "100", "1"]
    expect(page.locator("#submissions tbody tr", has_text=student)).to_have_count(1)
    # the tables are named (by their caption, by their heading) for screen readers
    expect(page.get_by_role("table", name=re.compile(r"^\d+ submission\(s\), page 1"))
           ).to_have_count(1)
    expect(page.get_by_role("table", name="Gradebook")).to_have_count(1)
    shot(page, "instructor")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the gradebook as CSV").click()
    assert download.value.suggested_filename == "gradebook.csv"
    rows = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert rows[0] == ["student", "exercise", "best", "latest", "submissions",
                       "last_submitted"]
    mine = [r for r in rows[1:] if r[0] == student]
    assert len(mine) == 1 and mine[0][1:5] == ["gd", "100.0", "100.0", "1"]

    # filtered by the student, then their submission: the instructors see the code
    page.get_by_label("Student").fill(student)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#submissions caption")).to_contain_text("1 submission(s)")
    page.locator("#submissions tbody tr", has_text=student).get_by_role("link").click()
    expect(page.locator("#score")).to_have_text("100")
    expect(page.locator("pre.code")).to_contain_text("return params - lr * grad")

    page.set_viewport_size(PHONE)
    page.goto("/instructor")
    assert no_horizontal_scroll(page)
    shot(page, "phone-instructor")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    page.goto("/instructor")
    assert "/login" in page.url
