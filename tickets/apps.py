from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Tickets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tickets import delivery, services, signals  # noqa: F401  (connects receivers)

        # Issuing or reissuing a ticket e-mails it (after commit), wherever it was issued.
        services.on_ticket_issued(delivery.on_ticket_issued)
