"""The demo's door: a check-in list open at any time, a paired device, codes for load tests.

A receiver of ``tickets.signals.demo_event_seeded`` (connected by ``CheckinConfig.ready()``),
so that ``seed_demo --export DIR`` also writes ``DIR/codes.txt`` (one QR text per line, in
serial order) and ``DIR/device.json`` (``{"token", "list", "scan_url"}``). Idempotent: the list
and device are created once, and the token already in ``DIR/device.json`` is kept while it is
still the device's (the database only has its hash, so a new token is made only when there is
none to reuse): a door page paired with the demo stays paired across ``make run`` restarts.
"""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path

from django.conf import settings
from django.dispatch import receiver
from django.urls import reverse
from tqdm import tqdm

from checkin import services
from checkin.devices import hash_token
from checkin.models import CheckinList, Device
from tickets import onboarding
from tickets.models import Event, Ticket
from tickets.services import ticket_code
from tickets.signals import demo_event_seeded

LIST_NAME = "Ingresso principale"
DEVICE_NAME = "Demo scanner"
GATE = "Ingresso A"


def seed_door(event: Event) -> tuple[CheckinList, Device]:
    checkin_list = CheckinList.objects.filter(event=event, name=LIST_NAME).first()
    if checkin_list is None:
        # No opening hours: the demo accepts scans on any day, not only on 22 September 2017.
        checkin_list = services.create_list(event, LIST_NAME)
    device = Device.objects.filter(event=event, name=DEVICE_NAME, revoked_at=None).first()
    if device is None:
        device, _ = services.create_device(event, DEVICE_NAME, GATE, lists=[checkin_list])
    return checkin_list, device


def _exported_token(path: Path, device: Device) -> str | None:
    """The token an earlier export wrote, if it still authenticates ``device``."""
    try:
        token = json.loads(path.read_text()).get("token")
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(token, str) and hmac.compare_digest(hash_token(token), device.token_hash):
        return token
    return None


@receiver(demo_event_seeded, sender=Event)
def demo_door(sender, event: Event, export_dir: str | None, **kwargs) -> list[str]:
    checkin_list, device = seed_door(event)
    lines = [f"check-in list {checkin_list.name!r} (id {checkin_list.pk}), device {device.name!r}"]
    if not export_dir:
        return lines
    directory = Path(export_dir)
    directory.mkdir(parents=True, exist_ok=True)
    token = _exported_token(directory / "device.json", device)
    if token is None:
        device, token = services.rotate_device_token(device)
    tickets = Ticket.objects.filter(event=event, status=Ticket.Status.VALID).order_by("serial")
    # Every code admits someone: readable by the owner only, like device.json.
    codes = directory / "codes.txt"
    fd = os.open(codes, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an export made before 0600 keeps its old mode otherwise
    with os.fdopen(fd, "w") as out:
        for ticket in tqdm(tickets.iterator(chunk_size=1000), total=tickets.count(),
                           desc="codes", unit="code", disable=None):
            out.write(ticket_code(ticket) + "\n")
    onboarding.write_json(
        directory / "device.json",
        {
            "token": token,
            "list": checkin_list.pk,
            "scan_url": settings.SITE_URL + reverse("checkin-scan"),
        },
    )
    lines.append(f"door page: {services.pairing_url(token)}")
    lines.append(f"wrote {directory / 'codes.txt'} and {directory / 'device.json'}")
    return lines
