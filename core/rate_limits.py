"""The rate limits of Varco's services, owned here for every way in (docs/hardening.md).

Each limit is one class with one rate setting (``VARCO_*_RATE``, read per request so tests and
operators can change them; ``None`` switches a limit off) and one cache key, and every way in
to the service it guards draws on that same budget:

- public self-registration (``RegistrationThrottle``, per client address): the JSON API
  (``POST /api/v1/public/events/{slug}/register/``) and the HTML form (``/e/{slug}/register/``);
- organiser calls (``OrganiserThrottle``, per user): every API call, and every change made in
  the admin (registering an attendee, resending or reissuing tickets, ...);
- CSV imports (``ImportThrottle``, per user), on top of the organiser budget;
- "send my ticket again" on the public pages (``TicketResendThrottle``, per client address,
  and ``TicketResendAddressThrottle``, per event and address asked for, whoever asks).

DRF views list the classes in ``throttle_classes``; the other ways in (Django views, the admin)
call ``refused``. Logins have their own lockout (django-axes, ``AXES_*`` settings), which
covers the only login form there is (``/admin/login/``, also used by the browsable API).

Counts live in the default cache (Redis in production, so every web process shares them).
Client addresses follow ``VARCO_NUM_PROXIES`` (core.request_limits.client_ip), so a forged
X-Forwarded-For does not buy a fresh quota.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

from core.request_limits import client_ip


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


class TicketResendThrottle(RegistrationThrottle):
    """An attendee asking for their ticket again (the public pages): per client address."""

    scope = "ticket_resend"
    rate_setting = "VARCO_TICKET_RESEND_RATE"


class TicketResendAddressThrottle(SettingsRateThrottle):
    """The same, per event and e-mail address asked for, whoever asks: a mailbox cannot be
    flooded with its ticket from many connections. ``ident`` is a digest naming the event and
    the address (no address is written into the cache's keys). Charged for every address,
    registered or not, so its answer tells a prober nothing."""

    scope = "ticket_resend_address"
    rate_setting = "VARCO_TICKET_RESEND_ADDRESS_RATE"

    def __init__(self, ident: str = "") -> None:
        super().__init__()
        self.ident = ident

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


def refused(request: HttpRequest,
            *limits: type[SettingsRateThrottle] | SettingsRateThrottle) -> int | None:
    """Charge a request that does not go through DRF (a page, the admin) to ``limits`` (classes,
    or instances made with their key), as DRF does for the API: the seconds to wait when one
    of them refuses it, else None."""
    waits = []
    for limit in limits:
        throttle = limit() if isinstance(limit, type) else limit
        if not throttle.allow_request(request, None):
            waits.append(throttle.wait() or 1)
    return max(1, math.ceil(max(waits))) if waits else None
