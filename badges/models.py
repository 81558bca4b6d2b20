"""Badge layouts (what a badge looks like, per event and optionally per ticket type) and the
colour of each ticket type's band.

A layout is edited through ``badges.services`` only; each save raises ``version``, which the
renderer's prepared geometry follows (``badges/documents/badge.py``). A print job (print on
arrival, a later step) will render one badge for one ticket on one layout, so a layout is
self-contained: the preset, what to show and the language of its labels.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from badges.documents import presets
from core import languages
from tickets.models import Event, TicketType

HEX_COLOUR = r"^#[0-9a-fA-F]{6}$"
validate_colour = RegexValidator(HEX_COLOUR, _("Enter a colour as #RRGGBB, e.g. #1d4e89."))


class BadgeLayout(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="badge_layouts",
                              verbose_name=_("event"))
    # Empty: the event's default layout; set: the layout of that ticket type's badges.
    ticket_type = models.ForeignKey(
        TicketType, on_delete=models.CASCADE, null=True, blank=True,
        related_name="badge_layouts", verbose_name=_("ticket type"),
        help_text=_("Leave empty for the event's default layout."),
    )
    name = models.CharField(_("name"), max_length=100)
    preset = models.CharField(_("medium"), max_length=20, choices=presets.CHOICES,
                              default=presets.DEFAULT)
    language = models.CharField(_("language"), max_length=8, choices=languages.LANGUAGES,
                                default=languages.DEFAULT,
                                help_text=_("Language of the badge's labels and ticket type."))
    show_organisation = models.BooleanField(_("show organisation"), default=True)
    show_logo = models.BooleanField(_("show the event's logo"), default=True)
    show_lead_qr = models.BooleanField(
        _("show a lead retrieval QR code"), default=False,
        help_text=_("A code exhibitors scan to collect the contact; it never opens a door."),
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        ordering = ["event", "ticket_type", "id"]
        verbose_name = _("badge layout")
        verbose_name_plural = _("badge layouts")
        constraints = [
            models.UniqueConstraint(fields=["event", "ticket_type"],
                                    name="badgelayout_one_per_ticket_type"),
            models.UniqueConstraint(fields=["event"], condition=Q(ticket_type__isnull=True),
                                    name="badgelayout_one_default_per_event"),
            models.CheckConstraint(condition=Q(preset__in=list(presets.PRESETS)),
                                   name="badgelayout_known_preset"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def preset_spec(self) -> presets.Preset:
        return presets.PRESETS[self.preset]


class BadgeColour(models.Model):
    """The band colour of a ticket type's badges (types without one get a palette colour)."""

    ticket_type = models.OneToOneField(TicketType, on_delete=models.CASCADE,
                                       related_name="badge_colour",
                                       verbose_name=_("ticket type"))
    colour = models.CharField(_("colour"), max_length=7, validators=[validate_colour],
                              help_text=_("#RRGGBB; the text on the band is black or white, "
                                          "whichever reads better."))

    class Meta:
        verbose_name = _("badge colour")
        verbose_name_plural = _("badge colours")
        constraints = [
            models.CheckConstraint(condition=Q(colour__regex=HEX_COLOUR),
                                   name="badgecolour_hex"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_type.name}: {self.colour}"
