"""Where Varco's own secrets come from, and how strong they must be.

Two secrets: Django's ``SECRET_KEY`` (signs sessions, CSRF tokens and the attendees' ``/t/…/``
ticket links) and the key-encryption keys (``VARCO_ENCRYPTION_KEYS``, Fernet keys that encrypt
the events' private signing keys in the database, see ``core/encryption.py``).

No installation runs on a key published in the source. In production both come from the
environment. The embedded mode (``make run``, no configuration) makes its own random keys on
the first start and keeps them under ``var/`` (mode 0600); a network-facing gunicorn (bound to
anything but loopback) refuses to start without a real ``SECRET_KEY`` and
``VARCO_ENCRYPTION_KEYS`` from the environment, since keys made on one host are not shared with
the others (``gunicorn.conf.py``).

This module reads no Django setting: ``settings.py`` and gunicorn's hooks both import it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.checks.security.base import SECRET_KEY_INSECURE_PREFIX
from django.core.exceptions import ImproperlyConfigured

# Keys that were ever published in this repository: never accepted, whatever the mode.
PUBLISHED_SECRET_KEYS = frozenset({"varco-insecure-embedded-default-change-me", "build-only"})
SECRET_KEY_MIN_LENGTH = 32
# A random key of 32 characters from any usual alphabet (hex included) has far more distinct
# characters than this; "a" * 32 or "abcd" * 8 has fewer.
SECRET_KEY_MIN_DISTINCT = 10
GENERATE_SECRET_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
GENERATE_ENCRYPTION_KEY = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)
SECRET_KEY_FILE = "secret_key"
ENCRYPTION_KEY_FILE = "encryption_key"


def secret_key_weakness(key: str) -> str | None:
    """Why ``key`` must not sign anything in production, or None when it is fine."""
    if key in PUBLISHED_SECRET_KEYS:
        return "it is published in Varco's source"
    if key.startswith(SECRET_KEY_INSECURE_PREFIX):
        return f"it starts with {SECRET_KEY_INSECURE_PREFIX!r}, the mark of a throw-away key"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"it is shorter than {SECRET_KEY_MIN_LENGTH} characters"
    if len(set(key)) < SECRET_KEY_MIN_DISTINCT:
        return f"it has fewer than {SECRET_KEY_MIN_DISTINCT} distinct characters"
    return None


def _read_key(path: Path) -> str:
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty; delete it to make a new key")
    return key


def embedded_key(path: Path, generate: Callable[[], str]) -> str:
    """The key kept in ``path``, made by ``generate`` on the first call (mode 0600).

    Concurrent first starts (the web server and the worker of ``make run``) agree on one key:
    each writes its candidate to a private temporary file and hard-links it into place, which
    fails if the file already exists, so the first link wins and everyone reads the winner. A
    reader never sees a half-written file.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(generate() + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: use its key
            os.link(candidate, path)
    finally:
        candidate.unlink(missing_ok=True)
    return _read_key(path)


def secret_key(var_dir: Path, production: bool) -> str:
    """``SECRET_KEY`` from the environment, else (not in production) the embedded one."""
    key = os.environ.get("SECRET_KEY", "")
    if not key:
        if production:
            raise ImproperlyConfigured(
                f"VARCO_PRODUCTION is set but SECRET_KEY is missing; generate one with: "
                f"{GENERATE_SECRET_KEY}"
            )
        return embedded_key(var_dir / SECRET_KEY_FILE, lambda: secrets.token_urlsafe(50))
    weakness = secret_key_weakness(key)
    if weakness is not None and (production or key in PUBLISHED_SECRET_KEYS):
        raise ImproperlyConfigured(
            f"SECRET_KEY is refused: {weakness}; generate one with: {GENERATE_SECRET_KEY}"
        )
    return key


def encryption_keys(var_dir: Path, production: bool) -> list[str]:
    """``VARCO_ENCRYPTION_KEYS`` (comma-separated Fernet keys, the newest first), else (not in
    production) the embedded one."""
    raw = [k.strip() for k in os.environ.get("VARCO_ENCRYPTION_KEYS", "").split(",") if k.strip()]
    if not raw:
        if production:
            raise ImproperlyConfigured(
                "VARCO_PRODUCTION is set but VARCO_ENCRYPTION_KEYS is missing (it encrypts the "
                f"events' signing keys in the database); generate one with: "
                f"{GENERATE_ENCRYPTION_KEY}"
            )
        return [embedded_key(var_dir / ENCRYPTION_KEY_FILE,
                             lambda: Fernet.generate_key().decode())]
    for position, key in enumerate(raw, 1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"VARCO_ENCRYPTION_KEYS: key {position} is not a Fernet key (32 bytes, "
                f"url-safe base64); generate one with: {GENERATE_ENCRYPTION_KEY}"
            ) from None
    return raw


# --- gunicorn: a network-facing start needs a real key ---------------------------------------


def _is_loopback(address: object) -> bool:
    """True for a (host, port) bound to loopback; a UNIX socket or fd may face a proxy: False."""
    if not isinstance(address, tuple):
        return False
    host = str(address[0]).strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to may be public


def network_start_refusal(addresses: Iterable[object], env: dict[str, str]) -> str | None:
    """Why a server bound to ``addresses`` must not start with ``env``, or None.

    Facing the network, both secrets must come from the environment: keys made under one
    host's (or container's) var/ are not the other processes' (a worker would sign links and
    decrypt keys with keys of its own) and vanish with that var/.
    """
    exposed = [a for a in addresses if not _is_loopback(a)]
    if not exposed:
        return None  # `make run`: 127.0.0.1, the embedded keys are fine
    where = ", ".join(":".join(map(str, a)) if isinstance(a, tuple) else str(a) for a in exposed)
    key = env.get("SECRET_KEY", "")
    weakness = "it is not set" if not key else secret_key_weakness(key)
    if weakness is not None:
        return (
            f"Refusing to serve on {where} (not loopback) without a real SECRET_KEY: {weakness}. "
            f"Set SECRET_KEY in the environment (generate one with: {GENERATE_SECRET_KEY}), "
            f"or bind to 127.0.0.1 (GUNICORN_BIND=127.0.0.1:8000) for a local try-out."
        )
    if not env.get("VARCO_ENCRYPTION_KEYS", "").strip(" ,"):
        return (
            f"Refusing to serve on {where} (not loopback) without VARCO_ENCRYPTION_KEYS in the "
            f"environment (generate one with: {GENERATE_ENCRYPTION_KEY}), or bind to 127.0.0.1."
        )
    return None
