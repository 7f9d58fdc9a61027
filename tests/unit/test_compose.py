"""docker-compose.yml and the Dockerfile as an operator would accept them. Docker does not run where the
tests run, so this reads the files: the YAML's shape, not a deployment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pathway.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SERVICES = COMPOSE["services"]
ENGINE = ("migrate", "api", "worker", "beat")  # the services that run the engine's image
FIRST_TOKEN = "docker compose run --rm api pathway token create --role admin"


def mounts(service: str) -> dict[str, str]:
    """A service's volumes as {path in the container: source}."""
    out = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        out[target] = source
    return out


def test_the_services_are_the_production_shape_and_every_reference_resolves():
    assert set(SERVICES) == {"postgres", "redis", "migrate", "api", "worker", "beat"}
    for name, service in SERVICES.items():
        for needed in service.get("depends_on", {}):
            assert needed in SERVICES, f"{name} depends on {needed}, which is not a service"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith("./") or source in COMPOSE["volumes"], f"{name}: volume {source} is not declared"
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
    assert SERVICES["beat"]["deploy"]["replicas"] == 1


def test_the_image_is_built_once_and_reused():
    built = [name for name, service in SERVICES.items() if "build" in service]
    assert built == ["migrate"]
    images = {SERVICES[name]["image"] for name in ENGINE}
    assert len(images) == 1
    for name in ENGINE:
        if name != "migrate":
            assert SERVICES[name]["pull_policy"] == "never", f"{name} would try to pull the local image"
            assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_engine_runs_as_a_user_of_its_own():
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), "the image's last USER is root"
    for name, service in SERVICES.items():
        assert service.get("user") not in ("root", "0"), f"{name} runs as root"


def test_redis_keeps_its_data_on_a_volume():
    assert "--appendonly" in SERVICES["redis"]["command"]
    assert mounts("redis").get("/data") in COMPOSE["volumes"]


def test_the_config_is_mounted_not_baked_in():
    assert not re.search(r"^COPY\s+config\b", DOCKERFILE, re.MULTILINE)
    for name in ENGINE:
        config = SERVICES[name]["environment"]["PATHWAY_CONFIG_FILE"]
        assert mounts(name).get(config) == "./config/pathway.toml", name
        assert f"./config/pathway.toml:{config}:ro" in SERVICES[name]["volumes"], f"{name} may write the config"


def test_beat_keeps_its_schedule_on_a_volume_in_the_state_folder():
    state = SERVICES["beat"]["environment"]["PATHWAY_STATE_DIR"]
    assert mounts("beat").get(state) in COMPOSE["volumes"]
    assert re.search(rf"ENV PATHWAY_STATE_DIR={re.escape(state)}", DOCKERFILE)


def test_migrations_run_once_and_the_others_do_not_repeat_them():
    assert SERVICES["migrate"]["command"] == ["pathway", "db", "upgrade"]
    for name in ("api", "worker", "beat"):
        assert SERVICES[name]["environment"]["PATHWAY_MIGRATE_ON_START"] == "false"


@pytest.mark.parametrize("where", ["docker-compose.yml", "docs/deployment.md"])
def test_the_first_admin_token_is_documented_and_the_command_exists(where):
    assert FIRST_TOKEN in (ROOT / where).read_text()
    args = FIRST_TOKEN.split(" pathway ", 1)[1].split()
    assert CliRunner().invoke(app, [*args, "--help"]).exit_code == 0
