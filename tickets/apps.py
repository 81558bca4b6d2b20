from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, once the models are loaded (Django's place for connecting receivers):
        from tickets import receivers  # noqa: F401  (the key ring follows EventKey)
        from tickets.delivery import receivers as delivery  # noqa: F401  (e-mail on issue)
        from tickets.delivery import tasks  # noqa: F401  (registers the Celery tasks; Celery
        # autodiscovers ``tickets.tasks`` only, and ``queue`` publishes by name)
