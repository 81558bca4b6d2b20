"""Onboarding: an organiser team with its first staff user and API token, as JSON for scripts."""

from __future__ import annotations

import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction

from tickets import services
from tickets.auth import hash_token, new_token
from tickets.models import ApiToken, Organiser

# What an organiser's staff user may do in the admin (scoped to their team by the admin).
# (App labels, not imports: "badges" sits above tickets, which still imports nothing of it.)
STAFF_PERMISSION_APPS = ("tickets", "checkin", "badges")


@transaction.atomic
def create_staff_user(
    organiser: Organiser, username: str, email: str = "", password: str | None = None
) -> tuple[object, str | None, str]:
    """Create (or find) a staff member of ``organiser``; return (user, new password, token).

    The password is returned only when it was set now; an existing user keeps theirs. Likewise
    the API token: the database has only its hash, so it is returned when it was made now
    (a new user, or one without a token) and None when the user keeps theirs.
    """
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username, defaults={"email": email, "is_staff": True}
    )
    new_password = None
    if created or password:
        new_password = password or secrets.token_urlsafe(12)
        user.set_password(new_password)
        user.is_staff = True
        user.save()
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=STAFF_PERMISSION_APPS)
    )
    organiser.members.add(user)
    token = None
    if not ApiToken.objects.filter(user=user).exists():
        token = issue_api_token(user)
    return user, new_password, token


@transaction.atomic
def issue_api_token(user) -> str:
    """A new API token for ``user``, replacing any earlier one; shown once (only its hash is
    kept)."""
    token = new_token()
    ApiToken.objects.update_or_create(user=user, defaults={"token_hash": hash_token(token)})
    return token


def token_is_users(user, token: object) -> bool:
    """Whether ``token`` (e.g. read back from an earlier export) is ``user``'s current token."""
    record = ApiToken.objects.filter(user=user).first()
    return (
        record is not None and isinstance(token, str)
        and hmac.compare_digest(hash_token(token), record.token_hash)
    )


def create_organiser_with_user(name: str, username: str, email: str, password: str | None = None):
    organiser = services.create_organiser(name)
    user, new_password, token = create_staff_user(organiser, username, email, password)
    return organiser, user, new_password, token


def write_json(path: str | Path, data: dict) -> Path:
    """Write credentials readable by their owner only (0600), atomically: a temporary file
    (``mkstemp`` makes it 0600) renamed over ``path``, so no reader ever sees a partial file
    and an earlier world-readable export is replaced, not rewritten in place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(data, indent=2) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
