"""A student in a real browser: submit with the page script (the result in place) and
without JavaScript (a form POST and the result page), the draft kept across a reload,
the editor's Tab and the keyboard-only way out, and a phone-sized screen."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.integration.server import ASCENT, SOLUTION, source

from .conftest import (
    PHONE,
    dialogs_of,
    expect_status,
    no_horizontal_scroll,
    shot,
    wait_for_image,
)

EXERCISE = "/exercises/gd"
SYNTAX_ERROR = "def update(params, grad, lr, state, **hyper)\n    return params\n"
RAISES = "def update(params, grad, lr, state, **hyper):\n    raise ValueError('no step today')\n"


def send(page: Page, code: str) -> None:
    """Put ``code`` in the editor as a paste would, and press Submit."""
    page.locator("#code").fill(code)
    page.get_by_role("button", name="Submit").click()


def test_the_student_flow_with_javascript(page: Page) -> None:
    page.goto(EXERCISE)
    expect(page.get_by_label("Python code")).to_have_value(source("gd/starter.py"))
    expect(page.locator("#code-hint")).to_be_visible()
    expect(page.get_by_label("Python code")).to_have_accessible_description(
        re.compile("^Tab indents by four spaces"))
    shot(page, "exercise")

    page.get_by_label("Your name").fill("ada.lovelace")
    send(page, source(SOLUTION))
    expect(page.locator("#score")).to_have_text("100")
    assert page.url.endswith(EXERCISE)  # in place: no page load
    size = wait_for_image(page, "#result img")
    assert size["width"] > 0 and size["height"] > 0
    alt = page.locator("#result img").get_attribute("alt")
    assert alt and "score 100 of 100" in alt
    assert page.evaluate("document.activeElement.id") == "result-title"  # read out next
    expect(page.locator("#result table.runs tbody tr").first).to_contain_text("match")
    shot(page, "result-in-place")

    # its own page, which the link in the result opens
    page.get_by_role("link", name="This result on its own page").click()
    expect(page.locator("#score")).to_have_text("100")
    expect(page.locator(".status")).to_contain_text("by ada.lovelace")
    assert wait_for_image(page, "figure img")["width"] > 0
    shot(page, "result-page")
    page.go_back()

    send(page, source(ASCENT))
    expect(page.locator("#result .diagnosis")).to_contain_text("sign-flip")
    score = float(page.locator("#score").inner_text())
    assert score < 100
    assert wait_for_image(page, "#result img")["width"] > 0
    shot(page, "diagnosis-in-place")

    expect_status(page, 422, f"{EXERCISE}/submit")
    send(page, SYNTAX_ERROR)
    error = page.locator("#result #error")
    expect(error).to_contain_text("Not graded: Syntax error on line 1")
    expect(error).to_have_attribute("role", "alert")
    expect(page.locator("#result img")).to_have_count(0)
    expect(page.get_by_label("Python code")).to_have_value(SYNTAX_ERROR)  # kept
    shot(page, "syntax-error-in-place")

    send(page, RAISES)
    expect(page.locator("#score")).to_have_text("0")
    expect(page.locator("#result")).to_contain_text("ValueError on line 2: no step today")


def test_the_student_flow_without_javascript(new_context) -> None:
    context, _ = new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(EXERCISE)
    # what needs the page script is not offered
    expect(page.get_by_role("button", name="Back to the starter")).to_be_hidden()
    expect(page.locator("#code-hint")).to_be_hidden()
    page.get_by_label("Python code").fill(source(SOLUTION))
    page.get_by_label("Your name").fill("no-script student")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit").click()
    assert re.search(r"/submissions/[\w-]+$", page.url)
    expect(page.locator("#score")).to_have_text("100")
    expect(page.locator(".status")).to_contain_text("by no-script student")
    assert wait_for_image(page, "figure img")["width"] > 0
    expect(page.locator("pre.code")).to_contain_text("return params - lr * grad")
    shot(page, "result-page-no-js")

    page.goto(EXERCISE)
    page.get_by_label("Python code").fill(SYNTAX_ERROR)
    expect_status(page, 422, f"{EXERCISE}/submit")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit").click()
    expect(page.locator("#error")).to_contain_text("line 1")
    expect(page.get_by_label("Python code")).to_have_value(SYNTAX_ERROR)
    expect(page.get_by_label("Your name")).to_have_value("no-script student")
    shot(page, "syntax-error-no-js")


def test_the_draft_is_kept_across_a_reload(page: Page) -> None:
    draft = "def update(params, grad, lr, state, **hyper):\n    # my draft, not sent yet\n"
    page.goto(EXERCISE)
    page.get_by_label("Python code").fill(draft)
    page.reload()
    expect(page.get_by_label("Python code")).to_have_value(draft)
    assert page.evaluate("localStorage.getItem('gdlab-draft-gd')") == draft

    # back to the starter, once confirmed
    page.get_by_role("button", name="Back to the starter").click()
    assert dialogs_of(page) == ["confirm: Replace your code with the starter?"]
    expect(page.get_by_label("Python code")).to_have_value(source("gd/starter.py"))
    page.reload()
    expect(page.get_by_label("Python code")).to_have_value(source("gd/starter.py"))


def test_tab_indents_and_esc_then_tab_leaves_the_editor(page: Page) -> None:
    page.goto(EXERCISE)
    editor = page.get_by_label("Python code")
    editor.fill("def update(params, grad, lr, state, **hyper):\n")
    editor.press("Control+End")
    page.keyboard.press("Tab")
    page.keyboard.type("return params - lr * grad")
    expect(editor).to_have_value(source(SOLUTION).splitlines()[0] + "\n"
                                 "    return params - lr * grad")
    assert page.evaluate("document.activeElement.id") == "code"
    page.keyboard.press("Shift+Tab")  # dedents the line
    expect(editor).to_have_value(source(SOLUTION).splitlines()[0] + "\n"
                                 "return params - lr * grad")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "student"
    page.keyboard.press("Shift+Tab")  # back into the editor, where Tab indents again
    assert page.evaluate("document.activeElement.id") == "code"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "code"


def test_a_keyboard_only_student_submits_a_solution(page: Page) -> None:
    page.goto(EXERCISE)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["x"] >= 0  # shown while focused
    shot(page, "skip-link")
    for _ in range(40):  # on through the page to the editor
        if page.evaluate("document.activeElement.id") == "code":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "code"
    page.keyboard.press("Control+a")
    page.keyboard.type("def update(params, grad, lr, state, **hyper):\n")
    page.keyboard.press("Tab")
    page.keyboard.type("return params - lr * grad\n")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    page.keyboard.type("keyboard.user")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Submit")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#score")).to_have_text("100")


def test_a_phone_shows_the_exercise_and_result_without_sideways_scrolling(new_context) -> None:
    context, _ = new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                             device_scale_factor=2)
    page = context.new_page()
    page.goto(EXERCISE)
    assert no_horizontal_scroll(page)
    editor = page.get_by_label("Python code").bounding_box()
    assert editor and editor["x"] >= 0 and editor["x"] + editor["width"] <= PHONE["width"]
    shot(page, "phone-exercise")
    send(page, source(ASCENT))
    expect(page.locator("#result .diagnosis")).to_contain_text("sign-flip")
    assert wait_for_image(page, "#result img")["width"] > 0
    image = page.locator("#result img").bounding_box()
    assert image and image["x"] + image["width"] <= PHONE["width"]
    assert no_horizontal_scroll(page)
    shot(page, "phone-result")
    for path in ("/", "/reference", "/login"):
        page.goto(path)
        assert no_horizontal_scroll(page), path
    shot(page, "phone-login")
