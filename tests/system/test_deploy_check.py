"""Production settings (VARCO_PRODUCTION=true): ``manage.py check --deploy`` is clean, weak
secrets are refused at start, and the HTTPS-only headers and cookies are on.

Settings are read once per process, so each case runs in a subprocess with its own
environment (no database needed beyond an empty SQLite file in a temporary folder).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

# single_pass: the same whatever DATABASE_URL/REDIS_URL say
# (its subprocesses drop them).
pytestmark = pytest.mark.single_pass

ROOT = Path(__file__).resolve().parents[2]
HOST = "tickets.example.org"
# Whatever the test run itself was given must not leak into the production process.
_OWN = ("VARCO_", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DEBUG", "SECURE_",
        "DATABASE_URL", "REDIS_URL", "SITE_URL", "EMAIL_", "DJANGO_SETTINGS_MODULE")


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN)}
    env.update({
        "VARCO_PRODUCTION": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "VARCO_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": HOST,
        "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
        "SITE_URL": f"https://{HOST}",
        "VARCO_VAR_DIR": str(tmp_path),
    })
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    # Only W021 (HSTS preload, an operator's decision per domain) is silenced, nothing else.
    assert "System check identified no issues (1 silenced)." in result.stdout, result.stdout


@pytest.mark.parametrize(("extra", "warning"), [
    ({"SECURE_SSL_REDIRECT": "false"}, "security.W008"),
    ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
])
def test_check_deploy_would_catch_a_weakened_setting(tmp_path, extra, warning):
    """The clean run above means something: weakening one setting makes it fail. (DEBUG=true
    does not get this far: production refuses to start, test_edges_secrets.py.)"""
    result = manage(production_env(tmp_path, **extra), "check", "--deploy",
                    "--fail-level", "WARNING")
    assert result.returncode != 0
    assert warning in result.stdout + result.stderr


@pytest.mark.parametrize("secret_key", [
    None,  # missing
    "",
    "varco-insecure-embedded-default-change-me",  # the embedded default
    "x" * 31,
])
def test_production_refuses_a_missing_or_short_secret_key(tmp_path, secret_key):
    env = production_env(tmp_path)
    if secret_key is None:
        del env["SECRET_KEY"]
    else:
        env["SECRET_KEY"] = secret_key
    result = manage(env, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr and "generate one with" in result.stderr


def test_a_random_32_character_key_is_enough(tmp_path):
    result = manage(production_env(tmp_path, SECRET_KEY=secrets.token_hex(16)), "check")
    assert result.returncode == 0, result.stderr


PROBE = f"""
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="{HOST}")
plain = client.get("/admin/login/")
health = client.get("/healthz")
secure = client.get("/admin/login/", secure=True)
cookie = secure.cookies["csrftoken"]
print(json.dumps({{
    "plain": [plain.status_code, plain.get("Location")],
    "health": health.status_code,
    "secure": secure.status_code,
    "hsts": secure.get("Strict-Transport-Security"),
    "csp": secure.get("Content-Security-Policy"),
    "csrf_cookie_secure": bool(cookie["secure"]),
}}))
"""


def test_production_serves_https_only(tmp_path):
    env = production_env(tmp_path, DJANGO_SETTINGS_MODULE="backend.settings")
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, f"https://{HOST}/admin/login/"]
    assert seen["health"] == 200  # the load balancer's plain-HTTP probe is not redirected
    assert seen["secure"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains"
    assert "script-src 'self'" in seen["csp"]
    assert seen["csrf_cookie_secure"] is True
