"""Receivers of model signals for the check-in app, connected by ``CheckinConfig.ready``.

Keep the device caches in step with devices and lists edited anywhere in this process (and,
through Redis, every other process: ``checkin.devices.forget_everywhere``).
"""

from django.db.models.signals import m2m_changed, post_delete, post_save

from checkin.devices import forget_everywhere
from checkin.models import CheckinList, Device


def clear_device_cache(**kwargs) -> None:
    forget_everywhere()


def connect() -> None:
    """Connect this module's receivers (idempotent: a dispatch_uid per signal and sender)."""
    uid = "checkin.clear_device_cache"
    for sender in (Device, CheckinList):
        post_save.connect(clear_device_cache, sender=sender, dispatch_uid=uid)
        post_delete.connect(clear_device_cache, sender=sender, dispatch_uid=uid)
    for sender in (Device.lists.through, CheckinList.ticket_types.through):
        m2m_changed.connect(clear_device_cache, sender=sender, dispatch_uid=uid)
