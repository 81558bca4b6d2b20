"""``python -m badges.agent`` as a command: clear errors (exit 2) for what a person must fix,
a clean SIGTERM (exit 0), and no Django anywhere in it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.agent_process import start_agent
from tests.support.station_stub import TOKEN, station_stub
from tests.support.worker_process import ROOT, wait_until


def _run(*args: str, token: str | None = TOKEN, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VARCO_", "DJANGO_"))}
    if token is not None:
        env["VARCO_STATION_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "badges.agent", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_the_agent_imports_no_django():
    code = ("import sys, badges.agent.__main__, badges.agent.outputs.cups, "
            "badges.agent.outputs.brother; "
            "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) "
            "else 0)")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          timeout=60, check=False).returncode == 0


@pytest.mark.parametrize(("args", "token", "message"), [
    (["--server", "http://127.0.0.1:9"], None, "no station token"),
    (["--server", "ftp://example.org"], TOKEN, "must be Varco's http(s):// address"),
    ([], TOKEN, "must be Varco's http(s):// address"),
    (["--server", "http://127.0.0.1:9"], "two words", "is not a token"),
])
def test_what_a_person_must_fix_is_said_plainly(args, token, message):
    done = _run(*args, token=token)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_token_file_and_environment_together_are_refused(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    done = _run("--server", "http://127.0.0.1:9", "--token-file", str(token_file))
    assert done.returncode == 2 and "not both" in done.stderr


def test_a_refused_token_and_a_browser_station_are_configuration_errors(tmp_path):
    with station_stub({"kind": "browser"}) as station:
        refused = _run("--server", station.base, token="not-the-token")
        assert refused.returncode == 2 and "refused the station token" in refused.stderr
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN + "\n")
        browser = _run("--server", station.base, "--token-file", str(token_file), token=None)
        assert browser.returncode == 2 and "uses the print page" in browser.stderr, browser.stderr
    with station_stub({"kind": "brother_ql", "host": "127.0.0.1", "port": 9100,
                       "model": "QL-9999", "label": "62"}) as station:
        bad_model = _run("--server", station.base)
        assert bad_model.returncode == 2 and "unknown Brother QL model" in bad_model.stderr


def test_sigterm_stops_an_idle_agent_at_once_and_a_second_agent_is_refused(tmp_path):
    output = {"kind": "brother_ql", "host": "127.0.0.1", "port": 9, "model": "QL-820NWB",
              "label": "62"}
    with station_stub(output) as station:
        agent = start_agent(tmp_path, station.base, TOKEN)
        assert wait_until(lambda: "printing to Brother QL-820NWB" in agent.log(), timeout=30)
        second = _run("--server", station.base, "--journal", str(agent.journal))
        assert second.returncode == 2 and "another print agent" in second.stderr
        assert wait_until(lambda: sum(c[0] == "claim" for c in station.calls) >= 2, timeout=30)
        assert agent.terminate(timeout=10) == 0, agent.log()
        assert "stopped" in agent.log()
