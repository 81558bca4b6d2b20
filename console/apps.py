"""Two app configs: the console itself (templates, static files, catalogue) and Django's admin
with the console's site as its default site (``admin.site`` is then ``VarcoAdminSite``, so
every ``@admin.register`` of the apps lands on it)."""

from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    name = "console"
    default = True  # "console" in INSTALLED_APPS means this one, not the admin's config
    default_auto_field = "django.db.models.BigAutoField"


class VarcoAdminConfig(admin_apps.AdminConfig):
    default = False  # named in full in INSTALLED_APPS
    default_site = "console.site.VarcoAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscover: the apps' admin modules register their ModelAdmins
        # Imported here, after autodiscover, because it replaces some of those registrations
        # with the console's subclasses (an import at module level would run before them).
        from console import registry

        registry.install(self.module.site)
