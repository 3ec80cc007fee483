"""``gdlab worker``: refuses to start without a queue to work on, in one line."""

from __future__ import annotations

import pytest

from service.cli import EXIT_USAGE, main


def test_gdlab_worker_needs_a_redis_url(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str],
                                        tmp_path) -> None:
    monkeypatch.delenv("GDLAB_REDIS_URL", raising=False)
    monkeypatch.setenv("GDLAB_DATA_DIR", str(tmp_path))
    assert main(["worker"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "GDLAB_REDIS_URL" in err[0]


def test_gdlab_worker_refuses_a_url_that_is_not_redis(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str],
                                                      tmp_path) -> None:
    monkeypatch.setenv("GDLAB_REDIS_URL", "http://127.0.0.1:6379")
    monkeypatch.setenv("GDLAB_DATA_DIR", str(tmp_path))
    assert main(["worker"]) == EXIT_USAGE
    assert "redis://" in capsys.readouterr().err
