"""A student in a real browser: submit with the page script (the result in place) and
without JavaScript (a form POST and the result page, the plain textarea), the draft kept
across a reload, the code editor (CodeMirror) with the keyboard only: Tab, Shift+Tab and the
way out, and a phone-sized screen."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.integration.server import ASCENT, SOLUTION, source

from .conftest import (
    PHONE,
    dialogs_of,
    editor,
    editor_on_screen,
    expect_status,
    no_horizontal_scroll,
    paste,
    sent_code,
    shot,
    wait_for_image,
)

EXERCISE = "/exercises/gd"
SYNTAX_ERROR = "def update(params, grad, lr, state, **hyper)\n    return params\n"
RAISES = "def update(params, grad, lr, state, **hyper):\n    raise ValueError('no step today')\n"


def send(page: Page, code: str) -> None:
    """Paste ``code`` into the editor, and press Submit."""
    paste(page, code)
    page.get_by_role("button", name="Submit").click()


def test_the_student_flow_with_javascript(page: Page) -> None:
    page.goto(EXERCISE)
    expect(page.locator(".cm-editor .cm-gutters")).to_contain_text("1")  # line numbers
    expect(editor(page)).to_have_text(source("gd/starter.py").rstrip("\n").replace("\n", ""))
    expect(sent_code(page)).to_have_value(source("gd/starter.py"))
    expect(sent_code(page)).to_be_hidden()  # the editor stands in for it
    expect(page.locator("#code-hint")).to_be_visible()
    expect(editor(page)).to_have_accessible_description(
        re.compile("^Tab indents by four spaces"))
    # Python is coloured: the keyword and the function's name are spans of their own
    expect(editor(page).locator("span", has_text=re.compile(r"^def$")).first).to_be_visible()
    editor_on_screen(page)
    shot(page, "exercise")

    page.get_by_label("Your name").fill("ada.lovelace")
    send(page, source(SOLUTION))
    expect(page.locator("#score")).to_have_text("100")
    assert page.url.endswith(EXERCISE)  # in place: no page load
    assert page.evaluate("document.activeElement.id") == "result-title"  # read out next
    expect(page.locator("#result table.runs tbody tr").first).to_contain_text("match")
    expect(page.locator("#result .charts .chart")).to_have_count(4)  # the picture, as charts
    expect(page.locator("#result figure img")).to_have_count(0)
    shot(page, "result-in-place")

    # its own page, which the link in the result opens: charts there too
    page.get_by_role("link", name="This result on its own page").click()
    expect(page.locator("#score")).to_have_text("100")
    expect(page.locator(".status")).to_contain_text("by ada.lovelace")
    expect(page.locator("figure .charts .chart")).to_have_count(4)
    shot(page, "result-page")
    page.go_back()

    send(page, source(ASCENT))
    expect(page.locator("#result .diagnosis")).to_contain_text("sign-flip")
    score = float(page.locator("#score").inner_text())
    assert score < 100
    expect(page.locator("#result .charts .chart").first).to_contain_text(
        "first leaves the reference's at step 1")
    shot(page, "diagnosis-in-place")

    expect_status(page, 422, f"{EXERCISE}/submit")
    send(page, SYNTAX_ERROR)
    error = page.locator("#result #error")
    expect(error).to_contain_text("Not graded: Syntax error on line 1")
    expect(error).to_have_attribute("role", "alert")
    expect(page.locator("#result figure")).to_have_count(0)
    expect(sent_code(page)).to_have_value(SYNTAX_ERROR)  # kept
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
    expect(page.locator(".cm-editor")).to_have_count(0)  # the plain textarea
    page.get_by_label("Python code").fill(source(SOLUTION))
    page.get_by_label("Your name").fill("no-script student")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit").click()
    assert re.search(r"/submissions/[\w-]+$", page.url)
    expect(page.locator("#score")).to_have_text("100")
    expect(page.locator(".status")).to_contain_text("by no-script student")
    assert wait_for_image(page, "figure img")["width"] > 0  # the picture, not charts
    expect(page.locator(".charts")).to_have_count(0)
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
    paste(page, draft)
    expect(sent_code(page)).to_have_value(draft)
    page.reload()
    expect(sent_code(page)).to_have_value(draft)
    expect(editor(page)).to_contain_text("# my draft, not sent yet")
    assert page.evaluate("localStorage.getItem('gdlab-draft-gd')") == draft

    # back to the starter, once confirmed
    page.get_by_role("button", name="Back to the starter").click()
    assert dialogs_of(page) == ["confirm: Replace your code with the starter?"]
    expect(sent_code(page)).to_have_value(source("gd/starter.py"))
    page.reload()
    expect(sent_code(page)).to_have_value(source("gd/starter.py"))


def focused(page: Page) -> str:
    """The id of the element that has the focus."""
    return page.evaluate("document.activeElement.id")


def test_tab_indents_shift_tab_dedents_and_esc_then_tab_leaves_the_editor(page: Page) -> None:
    header = source(SOLUTION).splitlines()[0]
    page.goto(EXERCISE)
    paste(page, header + "\n")
    page.keyboard.press("Control+End")
    page.keyboard.press("Tab")
    page.keyboard.type("return params - lr * grad")
    expect(sent_code(page)).to_have_value(header + "\n    return params - lr * grad")
    assert focused(page) == "code-editor"
    page.keyboard.press("Shift+Tab")  # dedents the line
    expect(sent_code(page)).to_have_value(header + "\nreturn params - lr * grad")
    page.keyboard.press("Home")
    page.keyboard.press("Tab")  # at the start of the line: four spaces
    expect(sent_code(page)).to_have_value(header + "\n    return params - lr * grad")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert focused(page) == "student"
    page.keyboard.press("Shift+Tab")  # back into the editor, where Tab indents again
    assert focused(page) == "code-editor"
    page.keyboard.press("Tab")
    assert focused(page) == "code-editor"
    expect(sent_code(page)).to_have_value(header + "\n        return params - lr * grad")
    # Esc, a pause longer than CodeMirror's own two seconds, then Tab: still out
    page.keyboard.press("Escape")
    page.wait_for_timeout(2500)
    page.keyboard.press("Shift+Tab")
    assert focused(page) != "code-editor"
    # Esc, then another key: Tab indents again
    page.keyboard.press("Tab")
    assert focused(page) == "code-editor"
    page.keyboard.press("Escape")
    page.keyboard.press("End")
    page.keyboard.press("Tab")
    assert focused(page) == "code-editor"


def test_the_editor_matches_brackets_and_indents_after_a_colon(page: Page) -> None:
    page.goto(EXERCISE)
    paste(page, "")
    page.keyboard.type("def update(params, grad, lr, state, **hyper):")
    page.keyboard.press("Enter")  # the body is indented by itself
    page.keyboard.type("return (params - lr * grad)")
    expect(sent_code(page)).to_have_value(
        "def update(params, grad, lr, state, **hyper):\n    return (params - lr * grad)")
    page.keyboard.press("ArrowLeft")  # next to the closing bracket: both are marked
    expect(page.locator(".cm-matchingBracket")).to_have_count(2)
    expect(page.locator(".cm-matchingBracket").first).to_have_text("(")


def test_a_keyboard_only_student_submits_a_solution(page: Page) -> None:
    page.goto(EXERCISE)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["x"] >= 0  # shown while focused
    shot(page, "skip-link")
    for _ in range(40):  # on through the page to the editor
        if focused(page) == "code-editor":
            break
        page.keyboard.press("Tab")
    assert focused(page) == "code-editor"
    page.keyboard.press("Control+a")
    page.keyboard.type("def update(params, grad, lr, state, **hyper):\n")
    page.keyboard.type("return params - lr * grad\n")  # indented after the colon
    page.keyboard.press("Shift+Tab")  # the empty last line back to the margin
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    page.keyboard.type("keyboard.user")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Submit")).to_be_focused()
    expect(sent_code(page)).to_have_value(source(SOLUTION).splitlines()[0] +
                                          "\n    return params - lr * grad\n")
    page.keyboard.press("Enter")
    expect(page.locator("#score")).to_have_text("100")
    # on through the result: the scale switch, then each chart, which the arrows read
    expect(page.locator("#result .charts .chart")).to_have_count(4)
    for _ in range(20):
        if page.evaluate("document.activeElement.classList.contains('scale-toggle')"):
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    chart = page.locator("#result .chart").first
    expect(chart.locator(".chart-area")).to_be_focused()
    page.keyboard.press("End")
    expect(chart.locator(".readout")).to_have_text(re.compile(r"^step 100, yours \S+, reference"))
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    expect(chart.locator(".readout")).to_have_text(re.compile(r"^step 1, yours "))


def test_ctrl_enter_in_the_editor_submits(page: Page) -> None:
    page.goto(EXERCISE)
    paste(page, source(SOLUTION))
    page.keyboard.press("Control+Enter")
    expect(page.locator("#score")).to_have_text("100")
    assert not sent_code(page).input_value().endswith("\n\n")  # no newline typed


def test_a_phone_shows_the_exercise_and_result_without_sideways_scrolling(new_context) -> None:
    context, _ = new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                             device_scale_factor=2)
    page = context.new_page()
    page.goto(EXERCISE)
    assert no_horizontal_scroll(page)
    box = page.locator(".cm-editor").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    editor_on_screen(page)
    shot(page, "phone-exercise")
    send(page, source(ASCENT))
    expect(page.locator("#result .diagnosis")).to_contain_text("sign-flip")
    expect(page.locator("#result .charts .chart canvas")).to_have_count(4)
    for chart in page.locator("#result .chart canvas").all():
        drawn = chart.bounding_box()
        assert drawn and drawn["x"] >= 0 and drawn["x"] + drawn["width"] <= PHONE["width"]
    assert no_horizontal_scroll(page)
    shot(page, "phone-result")
    for path in ("/", "/reference", "/login"):
        page.goto(path)
        assert no_horizontal_scroll(page), path
    shot(page, "phone-login")
