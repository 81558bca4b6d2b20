"""One row per organiser action (see ``audit.actions``); immutable once written."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.actions import label


class AuditEntry(models.Model):
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    # Ids without foreign keys: the entry outlives what it names (see the package docstring).
    organiser_id = models.BigIntegerField(_("organiser"), db_index=True)
    event_id = models.BigIntegerField(_("event"), null=True, blank=True)
    attendee_id = models.BigIntegerField(_("attendee"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=32, blank=True)
    object_id = models.BigIntegerField(_("object id"), null=True, blank=True)
    object_label = models.CharField(_("object"), max_length=300, blank=True)
    actor_kind = models.CharField(_("actor kind"), max_length=16)
    actor_user_id = models.BigIntegerField(_("user id"), null=True, blank=True)
    actor_label = models.CharField(_("who"), max_length=150)
    via = models.CharField(_("via"), max_length=16, blank=True)
    # What changed ({"field": [before, after]}), counts, reasons: small, JSON-safe values only.
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["event_id", "-at"], name="audit_event_at"),
            models.Index(fields=["attendee_id", "-at"], name="audit_attendee_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label}: {self.action_label}"

    @property
    def action_label(self) -> str:
        return label(self.action)
