"""Receivers of model signals for the check-in app, connected by ``CheckinConfig.ready``.

Keep this process's device cache in step with devices and lists edited anywhere in it.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save

from checkin.devices import device_cache
from checkin.models import CheckinList, Device


def clear_device_cache(**kwargs) -> None:
    device_cache.clear()


def connect() -> None:
    """Connect this module's receivers (idempotent: a dispatch_uid per signal and sender)."""
    uid = "checkin.clear_device_cache"
    for sender in (Device, CheckinList):
        post_save.connect(clear_device_cache, sender=sender, dispatch_uid=uid)
        post_delete.connect(clear_device_cache, sender=sender, dispatch_uid=uid)
    for sender in (Device.lists.through, CheckinList.ticket_types.through):
        m2m_changed.connect(clear_device_cache, sender=sender, dispatch_uid=uid)
