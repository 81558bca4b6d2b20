from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BadgesConfig(AppConfig):
    name = "badges"
    verbose_name = _("Badges")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from badges.jobs import receivers  # (imports models: only once the apps are loaded)

        receivers.connect()
