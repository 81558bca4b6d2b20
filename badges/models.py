"""Badge layouts (what a badge looks like, per event and optionally per ticket type) and the
colour of each ticket type's band.

A layout is edited through ``badges.services`` only; each save raises ``version``, which the
renderer's prepared geometry follows (``badges/documents/badge.py``). A print job renders one
badge for one ticket on one layout, so a layout is self-contained: the preset, what to show and
the language of its labels.

Print on arrival: ``PrintStation`` (paired like a door device, serving gates through
``PrintStationGate``), ``ListPrinting`` (a check-in list that prints badges, on which layout)
and ``PrintJob`` (one badge to print, claimed exactly once: the rules are in ``badges.jobs``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from badges.documents import presets
from checkin.models import CheckinList
from core import languages
from tickets.models import Event, Ticket, TicketType

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


# --- print on arrival (badges/jobs/, docs/badges.md "Print on arrival") ----------------------


class OutputKind(models.TextChoices):
    BROWSER = "browser", _("browser (print dialog or kiosk printing)")
    CUPS = "cups", _("CUPS/IPP queue")
    BROTHER_QL = "brother_ql", _("Brother QL label printer (TCP 9100)")


class PrintStation(models.Model):
    """A printer at the door, paired like a door device, serving one or more gates.

    Only the SHA-256 of its token is stored (``badges.jobs.stations``), as for
    ``checkin.models.Device``; a station token is not a device token (another prefix, another
    table), so it can never scan, and a device token can never claim a badge.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="print_stations",
                              verbose_name=_("event"))
    name = models.CharField(_("name"), max_length=100)
    output_kind = models.CharField(_("output"), max_length=16, choices=OutputKind.choices,
                                   default=OutputKind.BROWSER)
    # cups: the queue's name; brother_ql: host, port, printer model and label (brother_ql's
    # names, e.g. "QL-820NWB" and "62"). Empty when the kind does not use them.
    cups_queue = models.CharField(_("CUPS queue"), max_length=127, blank=True, default="")
    printer_host = models.CharField(_("printer host"), max_length=253, blank=True, default="")
    printer_port = models.PositiveIntegerField(_("printer port"), null=True, blank=True)
    printer_model = models.CharField(_("printer model"), max_length=40, blank=True, default="")
    printer_label = models.CharField(_("label"), max_length=40, blank=True, default="")
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    token_hint = models.CharField(_("token hint"), max_length=8, editable=False)
    created_at = models.DateTimeField(_("created at"), default=dj_timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+", editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    # Refreshed by the station API at most every few seconds (badges.jobs.stations).
    last_seen_at = models.DateTimeField(_("last seen at"), null=True, blank=True,
                                        editable=False)

    class Meta:
        ordering = ["event", "name", "id"]
        verbose_name = _("print station")
        verbose_name_plural = _("print stations")
        constraints = [
            models.UniqueConstraint(fields=["event", "name"], name="printstation_unique_name"),
            models.CheckConstraint(
                condition=Q(output_kind__in=OutputKind.values), name="printstation_known_kind"),
            models.CheckConstraint(
                condition=~Q(output_kind=OutputKind.CUPS) | ~Q(cups_queue=""),
                name="printstation_cups_has_queue"),
            models.CheckConstraint(
                condition=~Q(output_kind=OutputKind.BROTHER_QL)
                | (~Q(printer_host="") & Q(printer_port__gte=1, printer_port__lte=65535)),
                name="printstation_ql_has_address"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class PrintStationGate(models.Model):
    """A gate a station serves. One station per gate and event (a database constraint), so
    an admitted entry has exactly one place to print; a revoked station's rows are deleted."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+",
                              verbose_name=_("event"))
    station = models.ForeignKey(PrintStation, on_delete=models.CASCADE, related_name="gates",
                                verbose_name=_("print station"))
    gate = models.CharField(_("gate"), max_length=100)

    class Meta:
        ordering = ["station", "gate"]
        verbose_name = _("gate of a print station")
        verbose_name_plural = _("gates of print stations")
        constraints = [
            models.UniqueConstraint(fields=["event", "gate"], name="printstationgate_one_per_gate"),
            models.CheckConstraint(condition=~Q(gate=""), name="printstationgate_not_empty"),
        ]

    def __str__(self) -> str:
        return self.gate


class ListPrinting(models.Model):
    """A check-in list configured for badge printing: every admitted entry there prints a
    badge on ``layout`` at the station serving the scanning device's gate; entries with no
    such station (a manual check-in, a device of a gate nobody serves) print at
    ``default_station`` when the list names one, else nowhere."""

    checkin_list = models.OneToOneField(CheckinList, on_delete=models.CASCADE,
                                        related_name="badge_printing",
                                        verbose_name=_("check-in list"))
    layout = models.ForeignKey(BadgeLayout, on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("badge layout"))
    default_station = models.ForeignKey(
        PrintStation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("default print station"),
        help_text=_("Prints manual check-ins and entries at gates no station serves."))
    created_at = models.DateTimeField(_("created at"), default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("badge printing at a list")
        verbose_name_plural = _("badge printing at lists")

    def __str__(self) -> str:
        return f"{self.checkin_list}: {self.layout}"


class JobState(models.TextChoices):
    QUEUED = "queued", _("queued")
    CLAIMED = "claimed", _("claimed")
    HANDED = "handed", _("sent to the printer")
    PRINTED = "printed", _("printed")
    FAILED = "failed", _("failed")
    IN_DOUBT = "in_doubt", _("in doubt")
    CANCELLED = "cancelled", _("cancelled")


class PrintJob(models.Model):
    """One badge of one ticket on one layout, for one station: the source of truth of print
    on arrival (the rules: ``badges.jobs``). Every write after the claim is a conditional
    UPDATE on ``claim_token``."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+",
                              verbose_name=_("event"))
    station = models.ForeignKey(PrintStation, on_delete=models.CASCADE, related_name="jobs",
                                verbose_name=_("print station"))
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="print_jobs",
                               verbose_name=_("ticket"))
    layout = models.ForeignKey(BadgeLayout, on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("badge layout"))
    # The layout's version when the badge was rendered for the printer (set at hand-over).
    layout_version = models.PositiveIntegerField(_("layout version"), null=True, blank=True)
    # The scanning device's gate ("" for a manual check-in or a reprint without one).
    gate = models.CharField(_("gate"), max_length=100, blank=True, default="")
    scan_log_id = models.BigIntegerField(_("scan"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=JobState.choices,
                             default=JobState.QUEUED)
    # Claims so far; the agent names the printer's job ``varco-<id>-<attempt>``.
    attempt = models.PositiveIntegerField(_("attempt"), default=0)
    claim_token = models.CharField(_("claim token"), max_length=32, null=True, blank=True,
                                   editable=False)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=dj_timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    handed_at = models.DateTimeField(_("sent to the printer at"), null=True, blank=True)
    printed_at = models.DateTimeField(_("printed at"), null=True, blank=True)
    printer_job = models.CharField(_("printer's job"), max_length=200, blank=True, default="")
    last_error = models.CharField(_("last error"), max_length=1000, blank=True, default="")
    reprint = models.BooleanField(_("reprint"), default=False)
    reason = models.CharField(_("reason"), max_length=500, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=dj_timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+", editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=dj_timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("print job")
        verbose_name_plural = _("print jobs")
        constraints = [
            # A re-entry (or a second list with the same layout) never prints a second badge:
            # only an explicit reprint adds a job for the same (ticket, layout).
            models.UniqueConstraint(fields=["ticket", "layout"], condition=Q(reprint=False),
                                    name="printjob_one_per_ticket_layout"),
            models.CheckConstraint(condition=Q(state__in=JobState.values),
                                   name="printjob_known_state"),
            # A claim token exactly while a station holds the job; kept afterwards so that a
            # station's retried "printed" or "failed" is recognised.
            models.CheckConstraint(
                condition=~Q(state__in=[JobState.CLAIMED, JobState.HANDED])
                | (Q(claim_token__isnull=False) & Q(claimed_at__isnull=False)),
                name="printjob_claimed_has_token"),
            models.CheckConstraint(
                condition=~Q(state=JobState.QUEUED) | Q(claim_token__isnull=True),
                name="printjob_queued_has_no_token"),
            models.CheckConstraint(
                condition=~Q(state__in=[JobState.HANDED, JobState.IN_DOUBT])
                | Q(handed_at__isnull=False),
                name="printjob_handed_has_time"),
            models.CheckConstraint(
                condition=~Q(state=JobState.PRINTED) | Q(printed_at__isnull=False),
                name="printjob_printed_has_time"),
            models.CheckConstraint(condition=Q(reprint=False) | ~Q(reason=""),
                                   name="printjob_reprint_has_reason"),
        ]
        indexes = [
            # the claim: a station's due queued jobs, oldest first
            models.Index(fields=["station", "state", "next_attempt_at"],
                         name="printjob_station_state"),
            # the sweep and the lists per event/state
            models.Index(fields=["state", "updated_at"], name="printjob_state_updated"),
            models.Index(fields=["event", "state"], name="printjob_event_state"),
        ]

    def __str__(self) -> str:
        return f"print job {self.pk} ({self.state})"
