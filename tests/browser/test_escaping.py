"""What a student writes is shown as text and never run: markup in the code (a comment, a
string, what it prints) and in a name, on the result in place, the result page, the
editor after an error, and the instructors' pages."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.integration.server import INSTRUCTOR_TOKEN, SOLUTION, source

from .conftest import dialogs_of, editor, expect_status, paste, sent_code, shot

#: Markup that would run if a page put it into its HTML unescaped: in a comment (closing
#: the editor first), in a string, and in what the code prints.
COMMENT = "# </textarea></code></pre><script>window.pwned = 'comment'</script> & \"quotes\""
STRING = "NOTE = \"<img src=x onerror=\\\"window.pwned = 'string'; alert(1)\\\">\""
PRINTED = "print(\"<script>window.pwned = 'printed'</script>\")"
HOSTILE = f"{COMMENT}\n{source(SOLUTION)}{STRING}\n{PRINTED}\n"
#: A name the server refuses (only letters, digits, spaces and . @ + - _), whose markup
#: would run if the re-rendered form put it into its HTML unescaped.
NAME = "Tom & Jerry \"><script>window.pwned = 'name'</script>"


def assert_nothing_ran(page: Page) -> None:
    """No script of the student's ran, and no dialog opened."""
    assert page.evaluate("window.pwned") is None
    assert dialogs_of(page) == []


def test_markup_in_the_code_is_shown_as_text(page: Page) -> None:
    page.goto("/exercises/gd")
    paste(page, HOSTILE)
    page.get_by_label("Your name").fill("mallory")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#score")).to_have_text("100")
    expect(page.locator("#result pre.code")).to_have_text(
        "<script>window.pwned = 'printed'</script>\n")
    assert_nothing_ran(page)

    page.reload()  # the draft comes back into the editor, as text
    expect(sent_code(page)).to_have_value(HOSTILE)
    expect(editor(page)).to_contain_text("<script>window.pwned = 'comment'</script>")
    assert_nothing_ran(page)

    page.get_by_role("button", name="Submit").click()
    page.get_by_role("link", name="This result on its own page").click()
    expect(page.locator("#score")).to_have_text("100")
    expect(page.locator("#code-title + pre.code")).to_have_text(HOSTILE)
    expect(page.locator("pre.code").first).to_have_text(
        "<script>window.pwned = 'printed'</script>\n")
    assert_nothing_ran(page)
    shot(page, "hostile-code")
    hostile_page = page.url

    # the instructors see it as text too
    page.goto("/login")
    page.get_by_label("Token").fill(INSTRUCTOR_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#submissions")).to_contain_text("mallory")
    page.goto(hostile_page)
    expect(page.locator("#code-title + pre.code")).to_have_text(HOSTILE)
    assert_nothing_ran(page)


def test_markup_in_code_sent_back_with_an_error_stays_in_the_editor(new_context) -> None:
    context, _ = new_context(java_script_enabled=False)
    page = context.new_page()
    code = f"{COMMENT}\ndef update(:\n"
    page.goto("/exercises/gd")
    page.get_by_label("Python code").fill(code)
    expect_status(page, 422, "/exercises/gd/submit")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit").click()
    expect(page.locator("#error")).to_contain_text("line 2")
    expect(page.get_by_label("Python code")).to_have_value(code)
    assert page.locator("script:not([src])").count() == 0
    assert dialogs_of(page) == []


def test_a_name_with_markup_is_refused_and_shown_as_text(new_context) -> None:
    # without JavaScript: the form comes back with the name in its field
    context, _ = new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto("/exercises/gd")
    page.get_by_label("Python code").fill(source(SOLUTION))
    page.get_by_label("Your name").fill(NAME)
    expect_status(page, 422, "/exercises/gd/submit")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit").click()
    expect(page.locator("#error")).to_contain_text("Name: Use 1 to 100 letters")
    expect(page.get_by_label("Your name")).to_have_value(NAME)
    assert page.locator("script:not([src])").count() == 0

    # with JavaScript: the refusal in place, the name left as typed
    context, _ = new_context()
    page = context.new_page()
    page.goto("/exercises/gd")
    paste(page, source(SOLUTION))
    page.get_by_label("Your name").fill(NAME)
    expect_status(page, 422, "/exercises/gd/submit")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#result #error")).to_contain_text("Name: Use 1 to 100 letters")
    expect(page.get_by_label("Your name")).to_have_value(NAME)
    assert_nothing_ran(page)

    # and the instructors' filter shows it back as text
    page.goto("/login")
    page.get_by_label("Token").fill(INSTRUCTOR_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Student").fill(NAME)
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_label("Student")).to_have_value(NAME)
    expect(page.get_by_role("alert")).to_contain_text("student: Use 1 to 100 letters")
    assert_nothing_ran(page)
