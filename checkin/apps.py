"""Check-in at the door: lists, devices, the scan endpoint, the scan log, attendance."""
from django.apps import AppConfig


class CheckinConfig(AppConfig):
    name = "checkin"
    verbose_name = "Check-in"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from checkin import demo, signals  # noqa: F401  (connects receivers, registers hooks)
