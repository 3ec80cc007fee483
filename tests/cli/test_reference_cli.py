"""``gdlab reference``: the table, JSON, plots, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from service.cli import main, parse_component, parse_value


def test_no_arguments_runs_the_course_example_as_a_table(capsys):
    assert main(["reference"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.strip().startswith("lr"))
    for column in ("first loss", "final loss", "outcome", "steps to tol", "max stable lr"):
        assert column in header
    rows = out.splitlines()[-3:]
    assert [row.split()[0] for row in rows] == ["0.01", "0.1", "0.5"]
    assert "max-steps" in rows[0] and "converged" in rows[2]
    assert "0.7887" in out  # the largest stable learning rate, 2 / lambda_max


def test_json_has_the_promised_fields_and_the_legacy_numbers(capsys):
    assert main(["reference", "--init", "legacy", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["problem"] == "linear-regression" and data["optimizer"] == "sgd"
    assert data["hyper"]["momentum"] == 0.0
    assert data["stability"]["gd_max_lr"] == pytest.approx(0.788664, abs=1e-6)
    first = data["runs"][0]
    assert first["lr"] == 0.01 and len(first["losses"]) == 100 and len(first["params"]) == 100
    assert first["final_params"] == [0.0918242566534428, 1.764366167675048]
    assert first["outcome"] == "max-steps" and first["steps_to_tolerance"] is None


def test_options_hyper_parameters_and_components(capsys):
    argv = ["reference", "--problem", "quadratic:condition=100,dim=3", "--optimizer", "sgd",
            "--set", "momentum=0.9", "--set", "nesterov=true", "--lr", "0.001", "0.01",
            "--epochs", "50", "--schedule", "cosine:T_max=25", "--clip", "norm:max_norm=1",
            "--regularizer", "l2:lam=0.01", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["problem_info"]["dim"] == 3
    assert data["hyper"]["nesterov"] is True and data["hyper"]["momentum"] == 0.9
    assert data["schedule"] == {"name": "cosine", "options": {"T_max": 25, "eta_min": 0.0}}
    assert data["clip"]["options"] == {"max_norm": 1.0}
    assert data["regularizer"]["options"] == {"lam": 0.01}
    assert [run["lr"] for run in data["runs"]] == [0.001, 0.01]


def test_repeated_lr_options_add_up(capsys):
    assert main(["reference", "--lr", "0.01", "--lr", "0.05", "--lr", "0.2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [run["lr"] for run in data["runs"]] == [0.01, 0.05, 0.2]


def test_repeated_lr_options_mix_with_lists_in_order(capsys):
    assert main(["reference", "--lr", "0.3", "0.01", "--lr", "0.2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [run["lr"] for run in data["runs"]] == [0.3, 0.01, 0.2]


def test_repeated_x0_options_add_up_to_one_point(capsys):
    argv = ["reference", "--problem", "quadratic:dim=3", "--x0", "1", "--x0", "-2",
            "--x0", "0.5", "--lr", "0.01", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["runs"][0]["params"][0] == [1.0, -2.0, 0.5]


def test_the_course_rates_are_the_default_only_when_no_lr_is_given(capsys):
    assert main(["reference", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [run["lr"] for run in data["runs"]] == [0.01, 0.1, 0.5]
    assert main(["reference", "--lr", "0.2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [run["lr"] for run in data["runs"]] == [0.2]


def test_plot_files_are_written_as_asked(tmp_path, capsys):
    png, svg = tmp_path / "seed.png", tmp_path / "seed.svg"
    assert main(["reference", "--plot", str(png)]) == 0
    assert main(["reference", "--plot", str(svg), "--json"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes()[:500]
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["plot"] == str(svg)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--problem", "nope"], "known: linear-regression, quadratic"),
        (["--optimizer", "sgdd"], "known: sgd, adagrad"),
        (["--lr", "0"], "> 0"),
        (["--lr", "-0.1"], "> 0"),
        (["--lr", "nan"], "finite"),
        (["--lr", "inf"], "finite"),
        (["--lr", "fast"], "not a number"),
        (["--epochs", "99999999"], "at most 10000 epochs"),
        (["--epochs", "ten"], "not a whole number"),
        (["--lr", *["0.1"] * 40], "at most 32 learning rates"),
        (["--optimizer", "adam", "--set", "beta1=1"], "[0, 1)"),
        (["--set", "nesterov=true", "--set", "dampening=0.5", "--set", "momentum=0.9"],
         "dampening = 0"),
        (["--set", "momentum"], "NAME=VALUE"),
        (["--set", "speed=3"], "known settings"),
        (["--init", "legacy", "--problem", "beale"], "only the 'shared'"),
        (["--plot", "out.jpg"], ".png or .svg"),
        (["--schedule", "cosine"], "T_max"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(argv, words, capsys):
    assert main(["reference", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gdlab: error: ")
    assert words in lines[0]


def test_limits_come_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("GDLAB_MAX_EPOCHS", "20")
    assert main(["reference", "--epochs", "21"]) == 2
    assert "at most 20 epochs" in capsys.readouterr().err
    monkeypatch.setenv("GDLAB_MAX_EPOCHS", "many")
    assert main(["reference"]) == 2
    assert "GDLAB_MAX_EPOCHS must be a number" in capsys.readouterr().err


def test_the_installed_command_exits_2_without_a_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "reference", "--lr", "nan"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_value_parsing():
    assert parse_value("false") is False
    assert parse_value("3") == 3 and isinstance(parse_value("3"), int)
    assert parse_value("0.5") == 0.5
    assert parse_component("l1-prox:lam=0.1").options == {"lam": 0.1}
    assert parse_component("constant").options == {}
