from django.apps import AppConfig


class CheckinConfig(AppConfig):
    name = "checkin"
    verbose_name = "Check-in"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: they import models, which needs the app registry
        # this method is called once it is ready.
        from checkin import demo, receivers  # noqa: F401  (demo registers its seed hooks)

        receivers.connect()
