"""Rate limits of the API (docs/hardening.md).

Rates come from settings (``VARCO_*_RATE``, read per request so tests and operators can change
them; ``None`` switches a limit off). Counts live in the default cache (Redis in production, so
every web process shares them). Client addresses follow ``VARCO_NUM_PROXIES``
(backend.request_limits.client_ip), so a forged X-Forwarded-For does not buy a fresh quota.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from backend.request_limits import client_ip


class SettingsRateThrottle(SimpleRateThrottle):
    """A throttle whose rate is the setting named by ``rate_setting``."""

    rate_setting: str

    def get_rate(self) -> str | None:
        return getattr(settings, self.rate_setting)

    def get_ident(self, request) -> str:
        return client_ip(request)


class RegistrationThrottle(SettingsRateThrottle):
    """Public self-registration: per client address (nobody is logged in)."""

    scope = "registration"
    rate_setting = "VARCO_REGISTRATION_RATE"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class OrganiserThrottle(SettingsRateThrottle):
    """Every authenticated organiser API call: per user, whatever the client address (a
    leaked token used from many machines still shares one budget)."""

    scope = "organiser"
    rate_setting = "VARCO_API_RATE"

    def get_cache_key(self, request, view) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None  # refused by authentication anyway; nothing to count
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class ImportThrottle(OrganiserThrottle):
    """CSV imports, per user: each may parse megabytes and write thousands of rows."""

    scope = "import"
    rate_setting = "VARCO_IMPORT_RATE"
