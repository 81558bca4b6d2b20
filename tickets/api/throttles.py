"""The API's throttle classes; the limits themselves are owned by tickets.rate_limits, which
every way in to a service (API, pages, admin) shares."""

from tickets.rate_limits import (
    ImportThrottle,
    OrganiserThrottle,
    RegistrationThrottle,
    SettingsRateThrottle,
)

__all__ = ["ImportThrottle", "OrganiserThrottle", "RegistrationThrottle", "SettingsRateThrottle"]
