"""A result's curves as charts in a real browser: hovering reads the loss at a step, the
arrow keys do too, the scale switches between log and linear, a circle marks the first
difference (and only where there is one), a run that blows up draws with gaps, and
everything (editor and charts) works with every request off the gdlab server blocked."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.integration.server import ASCENT, SOLUTION, GdlabServer, source

from .conftest import shot, wait_for_image
from .test_docs import block_outside
from .test_student import EXERCISE, editor, send

#: Gives up after two steps: the third returns infinite parameters (a run that blows up).
BLOWS_UP = ("def update(params, grad, lr, state, **hyper):\n"
            "    state['n'] = state.get('n', 0) + 1\n"
            "    return params - lr * grad if state['n'] < 3 else params * float('inf')\n")
READOUT = re.compile(r"^step (\d+), yours (\S+), reference (\S+)$")
#: The marker's colour (gdlab.js, COLOURS.marker), as RGB.
MARKER = (0xA4, 0x0E, 0x26)

_MARKER_PIXELS = """(canvas, [r, g, b]) => {
  const {data} = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let found = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - r) < 16 && Math.abs(data[i + 1] - g) < 16
        && Math.abs(data[i + 2] - b) < 16 && data[i + 3] > 200) found++;
  }
  return found;
}"""


def graded(page: Page, code: str) -> Locator:
    """Send ``code`` from the exercise page; its result's charts once drawn."""
    page.goto(EXERCISE)
    send(page, code)
    charts = page.locator("#result .charts")
    expect(charts.locator(".chart canvas")).to_have_count(4)
    return charts


def curves(page: Page) -> dict:
    """The result's curves.json, as the page's chart reads it."""
    address = page.locator("#result figure.plot").get_attribute("data-curves")
    answer = page.request.get(address)
    assert answer.ok
    return answer.json()


def number(text: str) -> float | None:
    """A value the readout shows (``none``: no finite value at that step)."""
    return None if text == "none" else float(text)


def read_at(chart: Locator, fraction: float) -> tuple[int, float | None, float | None]:
    """Point at ``fraction`` of the chart's width; the step and values the readout shows."""
    area = chart.locator(".u-over")
    box = area.bounding_box()
    assert box
    area.hover(position={"x": box["width"] * fraction, "y": box["height"] / 2})
    readout = chart.locator(".readout")
    expect(readout).to_have_text(READOUT)
    step, yours, reference = READOUT.match(readout.inner_text()).groups()
    return int(step), number(yours), number(reference)


def close(shown: float | None, value: float | None) -> bool:
    """Whether the readout's four significant digits show ``value``."""
    if shown is None or value is None:
        return shown is value
    return abs(shown - value) <= 1e-3 * abs(value)


def test_hovering_reads_the_loss_at_a_step_and_the_scale_switches(page: Page) -> None:
    charts = graded(page, source(ASCENT))
    data = curves(page)["cases"][0]["runs"]
    first = charts.locator(".chart").first
    expect(first.locator("h4")).to_have_text("learning rate 0.01: diverged, 0 points")

    step, yours, reference = read_at(first, 0.5)
    assert 40 <= step <= 60  # the middle of 100 steps
    assert close(yours, data[0]["student"][step])
    assert close(reference, data[0]["reference"][step])
    assert yours > reference  # the sign error climbs

    toggle = page.get_by_role("button", name="Log scale")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(charts).to_have_attribute("data-scale", "log")
    canvas = first.locator("canvas")
    drawn_log = canvas.evaluate("(c) => c.toDataURL()")
    shot(page, "charts-log")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(charts).to_have_attribute("data-scale", "linear")
    expect(charts.locator(".chart canvas")).to_have_count(4)
    assert canvas.evaluate("(c) => c.toDataURL()") != drawn_log  # drawn again, differently
    again = read_at(first, 0.5)
    assert again[0] == step and close(again[1], data[0]["student"][step])
    shot(page, "charts-linear")
    toggle.click()
    expect(charts).to_have_attribute("data-scale", "log")


def test_a_circle_marks_the_first_difference_and_only_where_there_is_one(page: Page) -> None:
    charts = graded(page, source(ASCENT))
    for chart in charts.locator(".chart").all():
        expect(chart).to_contain_text("first leaves the reference's at step 1 (circle)")
        assert chart.locator("canvas").evaluate(_MARKER_PIXELS, list(MARKER)) > 20
    charts = graded(page, source(SOLUTION))
    for chart in charts.locator(".chart").all():
        expect(chart).to_contain_text("follows the reference's at every step")
        assert chart.locator("canvas").evaluate(_MARKER_PIXELS, list(MARKER)) == 0


def test_a_run_that_blows_up_is_drawn_with_a_gap_on_both_scales(page: Page) -> None:
    charts = graded(page, BLOWS_UP)
    data = curves(page)["cases"][0]["runs"]
    assert all(len(run["student"]) <= 3 for run in data)
    first = charts.locator(".chart").first
    step, yours, reference = read_at(first, 0.9)
    assert step > 3 and yours is None and close(reference, data[0]["reference"][step])
    page.get_by_role("button", name="Log scale").click()
    expect(charts).to_have_attribute("data-scale", "linear")
    step, yours, _ = read_at(first, 0.9)
    assert yours is None
    shot(page, "charts-blown-up")  # and no script error (the page's watcher)


def test_the_arrow_keys_read_the_chart(page: Page) -> None:
    charts = graded(page, source(ASCENT))
    data = curves(page)["cases"][0]["runs"][1]
    chart = charts.locator(".chart").nth(1)
    area = chart.locator(".chart-area")
    area.focus()
    expect(area).to_have_accessible_name(re.compile("^Loss chart, learning rate 0.1"))
    page.keyboard.press("Home")
    expect(chart.locator(".readout")).to_have_text(re.compile(r"^step 0, "))
    page.keyboard.press("Shift+ArrowRight")
    step, yours, reference = READOUT.match(chart.locator(".readout").inner_text()).groups()
    assert step == "10"
    assert close(number(yours), data["student"][10])
    assert close(number(reference), data["reference"][10])
    page.keyboard.press("End")
    expect(chart.locator(".readout")).to_have_text(
        re.compile(rf"^step {len(data['reference']) - 1}, yours none, "))


def test_the_editor_and_the_charts_need_nothing_but_the_server(new_context,
                                                              web_server: GdlabServer) -> None:
    context, _ = new_context()
    blocked = block_outside(context, web_server)
    page = context.new_page()
    page.goto(EXERCISE)
    expect(page.locator(".cm-editor .cm-lineNumbers")).to_be_visible()
    expect(editor(page)).to_be_visible()
    charts = graded(page, source(ASCENT))
    read_at(charts.locator(".chart").first, 0.3)
    page.get_by_role("link", name="This result on its own page").click()
    expect(page.locator("figure .charts .chart canvas")).to_have_count(4)
    page.wait_for_load_state("networkidle")
    shot(page, "result-page-offline")
    assert blocked == [], f"the pages asked for outside addresses: {blocked}"


def test_where_the_curves_cannot_be_read_the_picture_stays(page: Page) -> None:
    page.route("**/curves.json", lambda route: route.abort("aborted"))
    page.goto(EXERCISE)
    send(page, source(ASCENT))
    expect(page.locator("#result .diagnosis")).to_contain_text("sign-flip")
    expect(page.locator("#result figure.plot")).to_have_attribute("data-charted", "no")
    assert wait_for_image(page, "#result figure img")["width"] > 0
    expect(page.locator("#result .charts")).to_have_count(0)
