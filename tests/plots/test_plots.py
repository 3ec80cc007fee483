"""Plots: real PNG and SVG, deterministic, safe from several threads at once."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from grader.engine import RunSpec, sweep
from grader.plots import format_from_path, plot_sweep, render, sweep_figure

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def seed_result():
    return sweep(RunSpec(init="legacy"))


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_png_is_a_real_png_of_a_readable_size(seed_result):
    width, height = _png_size(plot_sweep(seed_result, "png"))
    assert width >= 1200 and height >= 400


def test_svg_is_well_formed_xml(seed_result):
    root = ET.fromstring(plot_sweep(seed_result, "svg"))
    assert root.tag.endswith("svg")


def test_the_figure_shows_what_a_student_needs(seed_result):
    figure = sweep_figure(seed_result)
    loss_axis, log_axis, path_axis = figure.axes
    assert log_axis.get_yscale() == "log"
    assert len(loss_axis.get_lines()) == 3  # one curve per learning rate
    assert path_axis.get_xlabel() == "w" and path_axis.get_ylabel() == "b"
    legend = figure.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[2] == "lr = 0.5: converged in 79 steps"
    assert "0.7887" in legend.get_title().get_text()  # the largest stable lr


def test_diverged_runs_are_marked_and_the_limit_is_named():
    result = sweep(RunSpec(problem="quadratic", learning_rates=[0.05, 0.09], epochs=300))
    figure = sweep_figure(result)
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert texts[1].startswith("lr = 0.09: diverged at step") and "(above 0.08)" in texts[1]
    markers = [line.get_marker() for line in figure.axes[1].get_lines()]
    assert markers.count("X") == 1
    # the linear panel is cut near the starting loss, not stretched by the blow-up
    assert figure.axes[0].get_ylim()[1] < 10 * result.runs[0].losses[0]


def test_problems_with_more_than_two_parameters_have_no_contour_panel():
    figure = sweep_figure(sweep(RunSpec(problem="logistic-regression", optimizer="adam",
                                        learning_rates=[0.1], epochs=20)))
    assert len(figure.axes) == 2


def test_same_input_same_bytes(seed_result):
    for fmt in ("png", "svg"):
        assert plot_sweep(seed_result, fmt) == plot_sweep(seed_result, fmt)


def test_safe_from_several_threads_at_once(seed_result):
    other = sweep(RunSpec(problem="rosenbrock", optimizer="adam", learning_rates=[0.01, 0.1],
                          epochs=200))
    expected = {(id(r), f): plot_sweep(r, f) for r in (seed_result, other) for f in ("png", "svg")}
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            result = (seed_result, other)[i % 2]
            fmt = ("png", "svg")[(i // 2) % 2]
            results[i] = plot_sweep(result, fmt)
            assert results[i] == expected[(id(result), fmt)]
        except BaseException as error:  # collected and re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(results) == 8


def test_pyplot_is_never_imported():
    import sys

    plot_sweep(sweep(RunSpec(epochs=5)), "png")
    assert "matplotlib.pyplot" not in sys.modules


def test_unknown_formats_are_refused():
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        format_from_path("plot.pdf")
    with pytest.raises(ValueError, match="png, svg"):
        render(lambda: None, "jpg")
    assert format_from_path("a/b.SVG") == "svg"


def test_long_runs_are_thinned_not_refused():
    result = sweep(RunSpec(learning_rates=[0.001], epochs=10_000))
    line = sweep_figure(result).axes[0].get_lines()[0]
    assert 1000 <= len(np.asarray(line.get_xdata())) <= 2000
