"""Where the engine finds its configuration and keeps its own files: never the working directory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pathway.domain.vocabulary import CLIENT_GROUPS
from pathway.errors import SetupError
from pathway.settings import DEFAULT_THRESHOLDS, default_config_file, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "pathway.toml"
LOCAL = '[client_groups]\nextra = ["dementia"]\n'


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A user with no configuration, working in a folder of their own."""
    for name in ("PATHWAY_CONFIG_FILE", "PATHWAY_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def test_a_config_folder_in_the_working_directory_is_not_read(home):
    (home / "work" / "config").mkdir()
    (home / "work" / "config" / "pathway.toml").write_text(LOCAL)
    assert load_settings().client_groups == CLIENT_GROUPS


def test_the_default_file_is_in_the_users_config_folder_and_the_variable_wins(home, monkeypatch):
    assert default_config_file() == home / "xdg-config" / "pathway" / "pathway.toml"
    default_config_file().parent.mkdir(parents=True)
    default_config_file().write_text(LOCAL)
    assert load_settings().client_groups == (*CLIENT_GROUPS, "dementia")
    other = home / "other.toml"
    other.write_text('[client_groups]\nextra = ["carers"]\n')
    monkeypatch.setenv("PATHWAY_CONFIG_FILE", str(other))
    assert load_settings().client_groups == (*CLIENT_GROUPS, "carers")


def test_a_config_file_that_is_not_there_is_a_setup_error(home, monkeypatch):
    monkeypatch.setenv("PATHWAY_CONFIG_FILE", str(home / "nope.toml"))
    with pytest.raises(SetupError, match="no config file .*nope.toml.*PATHWAY_CONFIG_FILE"):
        load_settings()


def test_the_example_config_adds_no_local_group_and_one_target_for_every_group(home):
    settings = load_settings(EXAMPLE)
    assert settings.client_groups == CLIENT_GROUPS
    for stage, days in DEFAULT_THRESHOLDS.items():
        assert {settings.threshold(stage, group) for group in settings.client_groups} == {days}


def test_the_state_folder_defaults_to_the_users_state_folder(home, monkeypatch):
    assert load_settings().state_dir == str(home / "xdg-state" / "pathway")
    monkeypatch.setenv("PATHWAY_STATE_DIR", str(home / "state"))
    assert load_settings().state_dir == str(home / "state")


@pytest.mark.redis
def test_beat_keeps_its_schedule_in_the_state_folder_not_the_working_directory(home, redis_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHWAY_")}
    env.update(PATHWAY_BROKER_URL=redis_url, PATHWAY_STATE_DIR=str(home / "state"), PATHWAY_CELERY_QUEUE="beat-test",
               PYTHONPATH=str(EXAMPLE.parents[1]))
    beat = subprocess.Popen([sys.executable, "-c", "from pathway.cli import main; main()", "beat"],
                            cwd=home / "work", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((home / "state").glob("celerybeat-schedule*")):
            assert beat.poll() is None, "beat stopped"
            time.sleep(0.2)
        assert list((home / "state").glob("celerybeat-schedule*"))
    finally:
        beat.terminate()
        beat.wait(20)
    assert list((home / "work").iterdir()) == []
