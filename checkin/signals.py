"""Keep this process's device cache in step with devices and lists edited anywhere in it."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from checkin.devices import device_cache
from checkin.models import CheckinList, Device


@receiver([post_save, post_delete], sender=Device)
@receiver([post_save, post_delete], sender=CheckinList)
@receiver(m2m_changed, sender=Device.lists.through)
@receiver(m2m_changed, sender=CheckinList.ticket_types.through)
def _clear_device_cache(**kwargs) -> None:
    device_cache.clear()
