"""The data directory holds the server's secrets: it is created private, and a
world-writable one is refused with one clear sentence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.app import prepare_database
from service.config import Config, ConfigError

GDLAB = Path(sys.executable).parent / "gdlab"


def test_a_missing_data_dir_is_created_private(tmp_path):
    data = tmp_path / "new" / "data"
    prepare_database(Config(data_dir=data, instructor_token="t" * 20)).db.engine.dispose()
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "gdlab.sqlite3").is_file()


def test_a_world_writable_data_dir_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    with pytest.raises(ConfigError, match=r"writable by every user.*chmod o-w"):
        prepare_database(Config(data_dir=data, instructor_token="t" * 20))
    assert list(data.iterdir()) == [], "nothing may be written into a refused directory"


def test_a_data_dir_that_is_a_file_is_refused(tmp_path):
    data = tmp_path / "data"
    data.write_text("not a folder")
    with pytest.raises(ConfigError, match="GDLAB_DATA_DIR"):
        prepare_database(Config(data_dir=data, instructor_token="t" * 20))


def test_gdlab_serve_refuses_a_world_writable_data_dir_in_one_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    done = subprocess.run([str(GDLAB), "serve", "--port", "1"], check=False, capture_output=True,
                          text=True, timeout=60,
                          env={"GDLAB_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gdlab: error: GDLAB_DATA_DIR")
    assert "chmod o-w" in lines[0]
    assert "Traceback" not in done.stderr
