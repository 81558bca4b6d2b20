"""`make run` as a newcomer runs it (issue 13, items 5-7): with PORT set, every link it prints,
exports, shows in the admin and e-mails points at that port and answers; Ctrl-C stops the web
server and the worker cleanly; `make` finds any python3 >= 3.11.

The real Makefile runs in a copy of the project (its own var/, embedded mode) whose .venv is
this test run's environment, linked entry by entry, with a fresh install stamp: make installs
nothing and never touches the real environment.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import http.cookiejar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support.smtp_sink import free_port

# single_pass: the same whatever DATABASE_URL/REDIS_URL say
# (make run in a copy of its own, embedded mode).
pytestmark = pytest.mark.single_pass

ROOT = Path(__file__).resolve().parents[2]
URL = re.compile(r"https?://[^\s'\"<>]+")
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv*", "var", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache",
    ".hypothesis", "test-artifacts", "build", "*.egg-info",
)
# The variables a developer's shell or `make test` may carry that would change what make run does.
CLEARED = {"DATABASE_URL", "REDIS_URL", "SITE_URL", "SECRET_KEY", "ALLOWED_HOSTS", "PYTHON",
           "VENV", "HOST", "PORT", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CSRF_TRUSTED_ORIGINS"}
CLEARED_PREFIXES = ("VARCO_", "EMAIL_", "CELERY_", "DJANGO_", "GUNICORN_")


def _clean_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in CLEARED and not key.startswith(CLEARED_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _project_copy(tmp_path: Path) -> Path:
    assert sys.prefix != sys.base_prefix, "the tests run from a virtual environment (make test)"
    copy = tmp_path / "varco"
    shutil.copytree(ROOT, copy, ignore=COPY_IGNORE, symlinks=True)
    venv = copy / ".venv"
    venv.mkdir()
    for entry in Path(sys.prefix).iterdir():
        if not entry.name.startswith("."):
            (venv / entry.name).symlink_to(entry)
    (venv / ".installed").touch()  # newer than the copy's pyproject.toml: nothing to install
    return copy


class Output:
    """A process's merged output, read as it comes."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> None:
        self._thread.join(timeout=10)


def _get(url: str, opener: urllib.request.OpenerDirector | None = None,
         data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with (opener or _NO_REDIRECT).open(request, timeout=20) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect answers too: its status is the answer


_NO_REDIRECT = urllib.request.build_opener(_KeepRedirects)


def _wait_until_serving(base: str, process: subprocess.Popen, output: Output) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make run exited with {process.returncode}:\n{output.text}")
        # Our gunicorn listens first: another program may hold the port (then make run ends).
        if f"Listening at: {base}" in output.text and _get(base + "/healthz")[0] == 200:
            return
        time.sleep(0.5)
    pytest.fail(f"make run did not serve {base} within 240 s:\n{output.text}")


def _session_processes(sid: int) -> list[str]:
    """Live (not zombie) processes of session ``sid``: what make run started and left."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) != sid:
                continue
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ProcessLookupError):
            continue
        if stat.rsplit(")", 1)[1].split()[0] != "Z":
            found.append(f"{entry.name}: {cmdline}")
    return found


def _admin_pairing_link(base: str) -> str:
    """Log in to the admin as the demo organiser and ask for a new pairing link for the demo
    device (the admin action "New token and pairing QR")."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def csrf(page: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    status, page = _get(base + "/admin/login/", opener)
    assert status == 200
    form = {"username": "organiser", "password": "welfare-2017", "next": "/admin/",
            "csrfmiddlewaretoken": csrf(page)}
    status, page = _get(base + "/admin/login/", opener, urllib.parse.urlencode(form).encode())
    assert status == 200 and "logout" in page.lower(), page[:2000]
    status, page = _get(base + "/admin/checkin/device/", opener)
    assert status == 200
    device_id = re.search(r'name="_selected_action" value="(\d+)"', page).group(1)
    form = {"action": "rotate_token", "_selected_action": device_id, "index": "0",
            "csrfmiddlewaretoken": csrf(page)}
    status, page = _get(base + "/admin/checkin/device/", opener,
                        urllib.parse.urlencode(form).encode())
    assert status == 200
    return re.search(r"https?://[^\s\"<]+/scan/#pair=[\w-]+", page).group(0)


def _ticket_email_links(mail_dir: Path) -> list[str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        files = sorted(mail_dir.glob("*.eml")) if mail_dir.is_dir() else []
        if files:
            message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
            texts = [part.get_content() for part in message.walk()
                     if part.get_content_type() in {"text/plain", "text/html"}]
            return sorted({url.rstrip(".,)") for text in texts for url in URL.findall(text)})
        time.sleep(0.5)
    pytest.fail(f"no ticket e-mail in {mail_dir} within 120 s")


@pytest.mark.e2e
def test_make_run_links_follow_port_and_ctrl_c_stops_cleanly(tmp_path):
    copy = _project_copy(tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"], cwd=copy, env=_clean_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    output = Output(process)
    try:
        _wait_until_serving(base, process, output)

        # 1. The console: the login link, the door page's pairing link, the start line.
        printed = sorted(set(URL.findall(output.text)))
        assert f"{base}/admin/" in printed and any("/scan/#pair=" in u for u in printed)
        assert f"Starting the worker and the web server on {base}/" in output.text
        for url in printed:
            assert url.startswith(base), (url, output.text)
            status, _ = _get(url.split("#")[0])
            assert status < 400, (url, status)

        # 2. The exports: device.json's scan_url admits a demo code there.
        device = json.loads((copy / "var/demo/device.json").read_text())
        assert device["scan_url"] == f"{base}/api/v1/checkin/scan/"
        code = (copy / "var/demo/codes.txt").read_text().splitlines()[0]
        status, body = _get(
            device["scan_url"], data=json.dumps({"code": code, "list": device["list"]}).encode(),
            headers={"Authorization": f"Token {device['token']}",
                     "Content-Type": "application/json"},
        )
        assert status == 200, body
        exported = [v for f in (copy / "var/demo").glob("*.json")
                    for v in json.loads(f.read_text()).values() if isinstance(v, str)]
        assert all(v.startswith(base) for v in exported if "://" in v)

        # 3. The admin's pairing link.
        pairing = _admin_pairing_link(base)
        assert pairing.startswith(f"{base}/scan/#pair=vd_")
        assert _get(pairing.split("#")[0])[0] == 200

        # 4. A ticket e-mail (one .eml per message in var/mail/) links to this port.
        links = _ticket_email_links(copy / "var/mail")
        assert links and all(url.startswith(base) for url in links), links
        for url in links:
            assert _get(url)[0] == 200, url
        assert ":8000" not in output.text

        # 5. Ctrl-C: SIGINT to the foreground process group, as a terminal sends it.
        os.killpg(process.pid, signal.SIGINT)
        returncode = process.wait(timeout=90)
        output.join()
        assert returncode in (0, 130, -signal.SIGINT), output.text
        for noise in ("Segmentation fault", "No hostname was supplied", "setuptools",
                      "Traceback", "Error"):
            assert noise not in output.text, output.text
        deadline = time.monotonic() + 15
        while _session_processes(process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _session_processes(process.pid) == []
        with pytest.raises(OSError):
            _get(base + "/healthz")
        worker_log = (copy / "var/worker.log").read_text()
        for noise in ("Segmentation fault", "Traceback", "No hostname was supplied"):
            assert noise not in worker_log, worker_log
    finally:
        if process.poll() is None or _session_processes(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


# --- Which Python make uses (item 7) ---------------------------------------------------------


def _fake_bin(tmp_path: Path, good: dict[str, bool]) -> Path:
    """python3* commands: a good one is this interpreter; a bad one fails as a Python 3.10
    would fail the version check, or as a pyenv shim of a version not enabled fails."""
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, works in good.items():
        if works:
            (fake / name).symlink_to(sys.executable)
        else:
            (fake / name).write_text(f"#!/bin/sh\necho 'pyenv: {name}: command not found' >&2\n"
                                     "exit 127\n")
            (fake / name).chmod(0o755)
    return fake


def _make(tmp_path: Path, fake: Path, *args: str) -> subprocess.CompletedProcess:
    env = _clean_env() | {"PATH": f"{fake}:/usr/bin:/bin"}
    return subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("commands", "chosen"), [
    ({"python3": True, "python3.13": True, "python3.11": True}, "python3"),
    ({"python3": False, "python3.13": False, "python3.12": True, "python3.11": True},
     "python3.12"),
    ({"python3": False, "python3.11": True}, "python3.11"),
])
def test_make_uses_the_first_python3_that_runs(tmp_path, commands, chosen):
    fake = _fake_bin(tmp_path, commands)
    result = _make(tmp_path, fake, "--eval", "which-python: ; @echo $(PYTHON)", "which-python")
    assert result.stdout.strip() == chosen, result


def test_make_without_a_usable_python_says_so(tmp_path):
    fake = _fake_bin(tmp_path, {"python3": False, "python3.13": False, "python3.11": False})
    result = _make(tmp_path, fake, "VENV=env", "env/bin/activate")
    assert result.returncode != 0
    assert "Varco needs Python 3.11 or newer" in result.stderr
    assert "python3 python3.13 python3.12 python3.11" in result.stderr
    assert not (tmp_path / "env").exists()


def test_make_refuses_an_old_python_given_by_name(tmp_path):
    fake = _fake_bin(tmp_path, {"python3.10": False})
    result = _make(tmp_path, fake, "PYTHON=python3.10", "VENV=env", "env/bin/activate")
    assert result.returncode != 0
    assert "PYTHON=python3.10 is not a Python 3.11 or newer" in result.stderr


def test_an_ipv6_host_is_bracketed_in_the_bind_and_the_site_url(tmp_path):
    fake = _fake_bin(tmp_path, {"python3": True})
    (tmp_path / "pyproject.toml").touch()  # make -n plans the install from it
    show = ["--eval", "run serve: show-site", "--eval", "show-site: ; @echo SITE=$(SITE_URL)"]
    result = _make(tmp_path, fake, "-n", "serve", "HOST=::1", "PORT=8123", "VENV=env", *show)
    assert "--bind [::1]:8123" in result.stdout, result
    assert "SITE=http://[::1]:8123" in result.stdout, result
    # SITE_URL set: it wins over HOST and PORT.
    result = _make(tmp_path, fake, "-n", "run", "PORT=8123", "VENV=env", *show,
                   "SITE_URL=https://tickets.example.org")
    assert "SITE=https://tickets.example.org" in result.stdout, result


def test_supported_pythons_agree_in_pyproject_makefile_and_ci():
    """requires-python, the classifiers, the Makefile's candidates and CI's two passes name the
    same oldest and newest Python."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    oldest = re.fullmatch(r">=(3\.\d+)", project["requires-python"]).group(1)
    listed = sorted((c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                     if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)),
                    key=lambda v: int(v.split(".")[1]))
    newest = listed[-1]
    assert listed[0] == oldest
    assert listed == [f"3.{m}" for m in range(int(oldest[2:]), int(newest[2:]) + 1)]
    makefile = (ROOT / "Makefile").read_text()
    candidates = re.search(r"^PYTHON_CANDIDATES := (.+)$", makefile, re.M).group(1).split()
    assert candidates == ["python3", *(f"python{v}" for v in reversed(listed))]
    ci = (ROOT / ".ci/run").read_text()
    assert f"OLDEST=$(find_python {oldest})" in ci and f"NEWEST=$(find_python {newest})" in ci
    assert f"VENV=.venv-{oldest}" in ci and f"VENV=.venv-{newest}" in ci
