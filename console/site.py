"""The console's admin site: the Varco brand, the language switch, the event home's URLs."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from django.views.i18n import set_language

from console import badges, home

# Strings of Django's admin that its Italian catalogue lacks (Django 5.2), e.g. the hidden
# header of the index's link column, read by screen readers: named here so that `make
# messages` puts them in the console's catalogue, which Django reads before its own (the
# console is the first app in INSTALLED_APPS).
DJANGO_GAPS = (gettext_noop("Change or view list link"),)


class VarcoAdminSite(admin.AdminSite):
    site_header = _("Varco")
    site_title = _("Varco")
    index_title = _("Organiser's console")
    # The admin's "view site" led back to the admin; the event home links the public pages.
    site_url = None
    enable_nav_sidebar = False  # the sidebar took 300 px of a 1,366 px screen

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_view
        return [
            # Not behind admin_view: the login page switches language too.
            path("language/", set_language, name="console-language"),
            path("events/<int:event_id>/", wrap(home.event_home), name="console-event-home"),
            path("events/<int:event_id>/figures.json", wrap(home.figures_json),
                 name="console-event-figures"),
            path("events/<int:event_id>/send/", wrap(home.send_unsent),
                 name="console-event-send"),
            path("events/<int:event_id>/registration/", wrap(home.registration),
                 name="console-event-registration"),
            path("events/<int:event_id>/devices/add/", wrap(home.add_device),
                 name="console-event-add-device"),
            path("events/<int:event_id>/badges/", wrap(badges.badges_page),
                 name="console-event-badges"),
            path("events/<int:event_id>/badges/print/", wrap(badges.print_badges),
                 name="console-event-badges-print"),
            *super().get_urls(),
        ]
