"""The production stack's file says what the README promises (no Docker engine runs here, so
this reads the file rather than starting it)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES = COMPOSE["services"]


def test_the_stack_has_every_component():
    assert {"postgres", "redis", "web", "worker", "scheduler"} <= set(SERVICES)


def test_every_service_restarts_and_long_running_ones_report_health():
    for name, service in SERVICES.items():
        assert service.get("restart") == "unless-stopped", name
    for name in ("postgres", "redis", "web", "worker"):
        assert "test" in SERVICES[name]["healthcheck"], name


def test_state_lives_in_volumes():
    assert any("pgdata:" in v for v in SERVICES["postgres"]["volumes"])
    assert any("redisdata:" in v for v in SERVICES["redis"]["volumes"])


def test_no_default_secrets():
    """``${VAR:?message}`` makes compose refuse to start while the secret is unset."""
    env = SERVICES["web"]["environment"]
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", env["SECRET_KEY"])
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    )
    assert env["VARCO_PRODUCTION"] == "true"


def test_web_runs_gunicorn_with_the_shared_config_and_workers_wait_for_services():
    assert "gunicorn -c gunicorn.conf.py" in " ".join(SERVICES["web"]["command"])
    for name in ("web", "worker", "scheduler"):
        depends = SERVICES[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    # one scheduler; the workers do not embed beat
    assert SERVICES["worker"]["environment"]["VARCO_SEPARATE_BEAT"] == "true"
