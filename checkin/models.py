"""Check-in data model: lists, scanner devices, presence per (list, ticket), the scan log.

Integrity lives in the database:

* ``Presence`` has one row per (list, ticket). An entry is admitted by a single
  ``INSERT … ON CONFLICT (list, ticket) DO UPDATE … WHERE <may enter>`` (see
  ``checkin.scanning.postgres``): PostgreSQL locks the row and re-checks the condition on its
  newest version, so two devices scanning the same ticket at the same instant get exactly one
  ``ok``.
* ``ScanLog`` is append-only: every scan of a real ticket, accepted or rejected, becomes one
  row, written in the same statement/transaction as the presence change, before the answer is
  sent. A device's nonce is unique per device (``scanlog_unique_device_nonce``), so a retried
  request can never be recorded twice. An undo ("annul") is a new row pointing at the row it
  undoes; each row can be annulled at most once (``scanlog_annul_once``).

For attendance figures (the live dashboard): ``Presence`` answers "who is in / who came" per
event with indexed counts (``inside``, ``entries > 0``, ``first_entry_at``), and ``ScanLog``
answers "what happened when/where" by (event|list|device, received_at) index ranges.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.instants import range_check, validate_instant
from tickets.models import Event, Ticket, TicketType


class CheckinList(models.Model):
    """A door list of an event, e.g. "Ingresso principale": who it admits, and when."""

    event = models.ForeignKey(
        Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="checkin_lists")
    name = models.CharField(verbose_name=_("name"), max_length=200)
    # Which ticket types are admitted: all of the event's, or only ``ticket_types``.
    all_ticket_types = models.BooleanField(verbose_name=_("all ticket types"), default=True)
    ticket_types = models.ManyToManyField(
        TicketType, verbose_name=_("ticket types"), blank=True, related_name="checkin_lists")
    # Re-entry: with exit scans, a person may come back after an exit scan; without exit scans,
    # every further entry scan is admitted. Without re-entry, only the first entry is.
    allow_reentry = models.BooleanField(verbose_name=_("allow reentry"), default=False)
    # Check-out: exit scans are accepted and keep a "currently inside" figure.
    allow_exit = models.BooleanField(verbose_name=_("allow exit"), default=False)
    # Opening hours; empty means open at any time. Scans outside them are refused ("closed").
    opens_at = models.DateTimeField(
        verbose_name=_("opens at"), null=True, blank=True, validators=[validate_instant])
    closes_at = models.DateTimeField(
        verbose_name=_("closes at"), null=True, blank=True, validators=[validate_instant])
    position = models.PositiveIntegerField(verbose_name=_("position"), default=0)
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("check-in list")
        verbose_name_plural = _("check-in lists")
        ordering = ["event", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "name"], name="checkinlist_unique_name"),
            models.CheckConstraint(
                condition=Q(opens_at__isnull=True)
                | Q(closes_at__isnull=True)
                | Q(closes_at__gt=F("opens_at")),
                name="checkinlist_closes_after_opens",
            ),
            # Every stored time stays in the range read paths can handle (core/instants.py).
            models.CheckConstraint(
                condition=range_check("opens_at", nullable=True)
                & range_check("closes_at", nullable=True),
                name="checkinlist_hours_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Device(models.Model):
    """A door scanner (a phone's browser or a hand-held) paired with a secret token.

    Only the SHA-256 of the token is stored: tokens are 190-bit random strings, so a plain
    hash is enough (no salt or slow hash needed), and the lookup stays one indexed equality.
    """

    event = models.ForeignKey(
        Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(verbose_name=_("name"), max_length=100)
    gate = models.CharField(
        verbose_name=_("gate"), max_length=100, blank=True, help_text=_("e.g. 'Entrance A'"))
    lists = models.ManyToManyField(CheckinList, verbose_name=_("lists"), related_name="devices")
    token_hash = models.CharField(
        verbose_name=_("token hash"), max_length=64, unique=True, editable=False)
    # Last characters of the token, to tell devices apart in the admin without the secret.
    token_hint = models.CharField(verbose_name=_("token hint"), max_length=8, editable=False)
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=dj_timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
        on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    revoked_at = models.DateTimeField(
        verbose_name=_("revoked at"), null=True, blank=True, editable=False)
    # Refreshed by the snapshot and sync endpoints (never by the scan hot path).
    last_seen_at = models.DateTimeField(
        verbose_name=_("last seen at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("door device")
        verbose_name_plural = _("door devices")
        ordering = ["event", "name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.gate})" if self.gate else self.name

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class Direction(models.TextChoices):
    ENTRY = "entry", _("entry")
    EXIT = "exit", _("exit")
    ANNUL = "annul", _("annul")


class Result(models.TextChoices):
    OK = "ok", _("ok")
    REJECTED = "rejected", _("rejected")


class Reason(models.TextChoices):
    ALREADY_CHECKED_IN = "already_checked_in", _("already checked in")
    INVALID = "invalid", _("invalid")
    UNKNOWN = "unknown", _("unknown")
    REVOKED = "revoked", _("revoked")
    WRONG_EVENT = "wrong_event", _("wrong event")
    NOT_ALLOWED = "not_allowed", _("not allowed")
    CLOSED = "closed", _("closed")


class Source(models.TextChoices):
    SCAN = "scan", _("scan")  # online scan (camera or keyboard wedge)
    MANUAL = "manual", _("manual")  # staff searched and checked in by hand
    OFFLINE = "offline", _("offline")  # recorded on the device while offline, uploaded later


class Presence(models.Model):
    """The state of one ticket on one list; the row the no-double-entry rule is enforced on."""

    # Every index is written on each admission, so only the ones queries need exist: the FK
    # columns are covered by the composite indexes below.
    event = models.ForeignKey(
        Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="+", db_index=False)
    list = models.ForeignKey(
        CheckinList, verbose_name=_("list"), on_delete=models.CASCADE, related_name="presences",
        db_index=False
    )
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="presences",
        db_index=False
    )
    inside = models.BooleanField(verbose_name=_("inside"), default=False)
    # Admitted entries and exits that were not annulled.
    entries = models.PositiveIntegerField(verbose_name=_("entries"), default=0)
    exits = models.PositiveIntegerField(verbose_name=_("exits"), default=0)
    first_entry_at = models.DateTimeField(verbose_name=_("first entry at"), null=True, blank=True)
    last_entry_at = models.DateTimeField(verbose_name=_("last entry at"), null=True, blank=True)
    last_exit_at = models.DateTimeField(verbose_name=_("last exit at"), null=True, blank=True)
    # Nonce of the last admitted scan: a retry racing its own original is not admitted twice.
    last_nonce = models.CharField(
        verbose_name=_("last nonce"), max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(verbose_name=_("updated at"), default=dj_timezone.now)

    class Meta:
        verbose_name = _("presence")
        verbose_name_plural = _("presences")
        constraints = [
            models.UniqueConstraint(fields=["list", "ticket"], name="presence_one_per_list_ticket"),
            models.CheckConstraint(
                condition=Q(inside=False) | Q(entries__gt=0), name="presence_inside_has_entry"
            ),
            models.CheckConstraint(
                condition=range_check("first_entry_at", nullable=True)
                & range_check("last_entry_at", nullable=True)
                & range_check("last_exit_at", nullable=True)
                & range_check("updated_at"),
                name="presence_times_in_range",
            ),
        ]
        indexes = [
            # checked in per event, arrivals per 5 minutes
            models.Index(fields=["event", "first_entry_at"], name="presence_event_first"),
            # currently inside per event
            models.Index(fields=["event", "inside"], name="presence_event_inside"),
        ]

    def __str__(self) -> str:
        return gettext("ticket %(ticket)s on list %(list)s") % {"ticket": self.ticket_id,
                                                                "list": self.list_id}


class ScanLog(models.Model):
    """Append-only record of every scan, manual check-in, upload and undo. Never updated."""

    # FK columns without their own index are covered by the composite indexes below (each
    # index costs a write on the hot path).
    event = models.ForeignKey(
        Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="+", db_index=False)
    list = models.ForeignKey(
        CheckinList, verbose_name=_("list"),
        on_delete=models.CASCADE, related_name="scans", db_index=False
    )
    device = models.ForeignKey(
        Device, verbose_name=_("device"),
        null=True, blank=True, on_delete=models.SET_NULL, related_name="scans",
        db_index=False,
    )
    # A staff user, for manual check-ins made through the organiser API.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"),
        null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )
    # Empty for codes that failed the signature check or name no ticket of this event.
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"),
        null=True, blank=True, on_delete=models.SET_NULL, related_name="scans"
    )
    direction = models.CharField(
        verbose_name=_("direction"),
        max_length=8, choices=Direction.choices, default=Direction.ENTRY)
    result = models.CharField(verbose_name=_("result"), max_length=8, choices=Result.choices)
    reason = models.CharField(
        verbose_name=_("reason"), max_length=20, choices=Reason.choices, null=True, blank=True)
    source = models.CharField(
        verbose_name=_("source"), max_length=8, choices=Source.choices, default=Source.SCAN)
    # The client's id for this scan (a UUID); a retry with the same nonce records nothing new.
    nonce = models.CharField(verbose_name=_("nonce"), max_length=64, null=True, blank=True)
    # What the nonce was used for: a hash of (code or ticket, list, type). A request reusing a
    # nonce is a replay only if its key matches; otherwise it is refused (409), never answered
    # with another ticket's answer. Null for rows written before the key existed.
    request_key = models.CharField(
        verbose_name=_("request key"), max_length=32, null=True, blank=True, editable=False)
    # When the door saw it (the device's clock, for offline scans, if trusted:
    # checkin/scanning/clock.py) vs when the server got it (the server's clock, always).
    scanned_at = models.DateTimeField(verbose_name=_("scanned at"))
    received_at = models.DateTimeField(verbose_name=_("received at"), default=dj_timezone.now)
    # The device's claimed scan time, verbatim, when it was not trusted (outside the window of
    # checkin/scanning/clock.py); ``scanned_at`` is then the receipt time. Null: trusted, or no
    # claim.
    untrusted_scanned_at = models.CharField(
        verbose_name=_("untrusted scanned at"), max_length=40, null=True, blank=True)
    # The answer's times: when this ticket was admitted (ok entry: scanned_at) and, for
    # already_checked_in, its first admission. Kept so a replayed nonce gets the same answer.
    checked_in_at = models.DateTimeField(verbose_name=_("checked in at"), null=True, blank=True)
    first_checked_in_at = models.DateTimeField(
        verbose_name=_("first checked in at"), null=True, blank=True)
    # An offline scan the device accepted but the server refused because the ticket had
    # already entered elsewhere: the person is inside twice over; organisers review these.
    conflict = models.BooleanField(verbose_name=_("conflict"), default=False)
    # For direction=annul: the scan this row undoes.
    annuls = models.ForeignKey(
        "self", verbose_name=_("annuls"),
        null=True, blank=True, on_delete=models.PROTECT, related_name="annulled_by",
        db_index=False,
    )

    class Meta:
        verbose_name = _("scan")
        verbose_name_plural = _("scan log")
        constraints = [
            models.UniqueConstraint(
                fields=["device", "nonce"],
                condition=Q(nonce__isnull=False) & Q(device__isnull=False),
                name="scanlog_unique_device_nonce",
            ),
            # A scan is undone at most once.
            models.UniqueConstraint(
                fields=["annuls"], condition=Q(annuls__isnull=False), name="scanlog_annul_once"
            ),
            models.CheckConstraint(
                condition=Q(result="ok", reason__isnull=True)
                | Q(result="rejected", reason__isnull=False),
                name="scanlog_reason_iff_rejected",
            ),
            models.CheckConstraint(
                condition=Q(direction="annul", annuls__isnull=False)
                | (~Q(direction="annul") & Q(annuls__isnull=True)),
                name="scanlog_annul_points_at_scan",
            ),
            # No row may hold a time a read path cannot load (year 1 BC broke them all).
            models.CheckConstraint(
                condition=range_check("scanned_at") & range_check("received_at")
                & range_check("checked_in_at", nullable=True)
                & range_check("first_checked_in_at", nullable=True),
                name="scanlog_times_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["event", "received_at"], name="scanlog_event_received"),
            models.Index(fields=["list", "received_at"], name="scanlog_list_received"),
            models.Index(fields=["device", "received_at"], name="scanlog_device_received"),
            models.Index(
                fields=["event", "received_at"], condition=Q(conflict=True),
                name="scanlog_event_conflicts",
            ),
        ]

    def __str__(self) -> str:
        # The labels, in the reader's language (the page title and breadcrumbs show this).
        words = [str(self.get_direction_display()), str(self.get_result_display())]
        if self.reason:
            words.append(str(self.get_reason_display()))
        return f"{' · '.join(words)} @ {self.scanned_at:%H:%M:%S}"
