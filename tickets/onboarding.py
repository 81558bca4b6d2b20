"""Onboarding: an organiser team with its first staff user and API token, as JSON for scripts."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from rest_framework.authtoken.models import Token

from tickets import services
from tickets.models import Organiser

# What an organiser's staff user may do in the admin (scoped to their team by the admin).
STAFF_PERMISSION_APPS = ("tickets", "checkin")


@transaction.atomic
def create_staff_user(
    organiser: Organiser, username: str, email: str = "", password: str | None = None
) -> tuple[object, str | None, str]:
    """Create (or find) a staff member of ``organiser``; return (user, new password, token).

    The password is returned only when it was set now; an existing user keeps theirs.
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
    token, _ = Token.objects.get_or_create(user=user)
    return user, new_password, token.key


def create_organiser_with_user(name: str, username: str, email: str, password: str | None = None):
    organiser = services.create_organiser(name)
    user, new_password, token = create_staff_user(organiser, username, email, password)
    return organiser, user, new_password, token


def write_json(path: str | Path, data: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
