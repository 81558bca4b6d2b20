"""Data model for organisers, events, ticket types, attendees, tickets and their delivery.

Integrity lives in the database: capacities are counters guarded by CHECK constraints and
raised with conditional UPDATEs (see ``services.register``), e-mails and serials are unique per
event, and each ticket has at most one initial delivery.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone as dj_timezone

from core import instants, languages
from core.instants import range_check, validate_instant
from core.text import TextRefused, email_key, search_key


def _timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def _save_kwargs_sparing(instance: models.Model, counters: tuple[str, ...], kwargs: dict) -> dict:
    """``save()`` arguments that update every field of an existing row except ``counters``.

    The counters are moved only by conditional UPDATEs in ``services``; a plain ``save()`` of
    an instance loaded a moment earlier (an admin form, an API PATCH) would otherwise write
    back the stale values it read and undo registrations made in between (lost update,
    oversold capacity, reused serials).
    """
    if instance._state.adding or kwargs.get("force_insert") or "update_fields" in kwargs:
        return kwargs
    fields = [
        f.name for f in instance._meta.concrete_fields
        if not f.primary_key and f.name not in counters
    ]
    return {**kwargs, "update_fields": fields}


class Organiser(models.Model):
    """A team that owns events. Staff users are members; they see only their team's events."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="organisers", blank=True
    )
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    organiser = models.ForeignKey(Organiser, on_delete=models.PROTECT, related_name="events")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    venue = models.CharField(max_length=200, blank=True)
    address = models.CharField(max_length=300, blank=True)
    timezone = models.CharField(max_length=64, default="Europe/Rome", choices=_timezone_choices)
    start = models.DateTimeField(validators=[validate_instant])
    end = models.DateTimeField(validators=[validate_instant])
    # Ordered: the first language is the default for attendees who do not choose one.
    languages = models.JSONField(default=list, blank=True)
    # None means unlimited; ``issued_count`` is kept in step by services.register/revoke.
    capacity = models.PositiveIntegerField(null=True, blank=True)
    issued_count = models.PositiveIntegerField(default=0, editable=False)
    # Serials are never reused, even after a revocation frees a place.
    last_serial = models.PositiveIntegerField(default=0, editable=False)
    registration_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    # The ticket's look (tickets/services/event_design.py validates all four). The logo is kept
    # in the database, already normalised (a flattened PNG of bounded size): every web and
    # worker host reads it with the event, with no shared file storage to set up or back up.
    logo = models.BinaryField(blank=True, default=b"", editable=False)
    brand_color = models.CharField(max_length=7, blank=True, default="")
    # {language: {"directions": text, "programme": text, "contact": text}}, multi-line texts.
    practical_info = models.JSONField(default=dict, blank=True)

    class TicketLanguages(models.TextChoices):
        ATTENDEE = "attendee", "the attendee's language"
        ALL = "all", "all the event's languages on one ticket"

    ticket_languages = models.CharField(
        max_length=10, choices=TicketLanguages.choices, default=TicketLanguages.ATTENDEE
    )

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="event_end_after_start"),
            # Times every read path can show in any time zone (core/instants.py).
            models.CheckConstraint(
                condition=range_check("start") & range_check("end"), name="event_dates_in_range"
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(issued_count__lte=F("capacity")),
                name="event_not_oversold",
            ),
            models.CheckConstraint(
                condition=Q(brand_color="") | Q(brand_color__regex=r"^#[0-9a-f]{6}$"),
                name="event_brand_color_hex",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    COUNTERS = ("issued_count", "last_serial")

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **_save_kwargs_sparing(self, self.COUNTERS, kwargs))

    def clean(self) -> None:
        """Form-level checks (admin) of what the CHECK constraints refuse, named by field."""
        errors = {}
        if self.start and self.end and self.end <= self.start:
            errors["end"] = "The end must be after the start."
        elif instants.too_long(self.start, self.end):
            errors["end"] = instants.TOO_LONG_TEXT
        if self.capacity is not None and self.pk:
            issued = Event.objects.filter(pk=self.pk).values_list("issued_count", flat=True)
            if issued and self.capacity < issued[0]:
                errors["capacity"] = f"{issued[0]} tickets are already issued."
        if errors:
            raise ValidationError(errors)

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def default_language(self) -> str:
        return (self.languages or [languages.DEFAULT])[0]


def validate_translations(value) -> None:
    """Translated names are ``{language code: text}``: another key would never be shown, and
    a key with a NUL character is refused by PostgreSQL's JSON type."""
    codes = languages.CODES
    if not isinstance(value, dict):
        raise ValidationError("A mapping of language code to name is required.")
    unknown = sorted(repr(key) for key in value if key not in codes)
    if unknown:
        raise ValidationError(
            f"Keys must be language codes ({', '.join(codes)}); not {', '.join(unknown)}."
        )
    for text in value.values():
        if not isinstance(text, str) or "\x00" in text or len(text) > 200:
            raise ValidationError("Each name must be text of at most 200 characters.")


class TicketType(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="ticket_types")
    name = models.CharField(max_length=200)
    # Translations of the name keyed by language code, e.g. {"en": "Admission"}.
    name_i18n = models.JSONField(default=dict, blank=True, validators=[validate_translations])
    price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    capacity = models.PositiveIntegerField(null=True, blank=True)
    issued_count = models.PositiveIntegerField(default=0, editable=False)
    public = models.BooleanField(default=True, help_text="Offered on the public registration.")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["event", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "name"], name="tickettype_unique_name"),
            models.CheckConstraint(condition=Q(price__gte=0), name="tickettype_price_not_negative"),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(issued_count__lte=F("capacity")),
                name="tickettype_not_oversold",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.event.slug})"

    COUNTERS = ("issued_count",)

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **_save_kwargs_sparing(self, self.COUNTERS, kwargs))

    def clean(self) -> None:
        if self.capacity is not None and self.pk:
            issued = TicketType.objects.filter(pk=self.pk).values_list("issued_count", flat=True)
            if issued and self.capacity < issued[0]:
                raise ValidationError(
                    {"capacity": f"{issued[0]} tickets of this type are already issued."}
                )

    def localized_name(self, language: str) -> str:
        return (self.name_i18n or {}).get(language) or self.name


class Attendee(models.Model):
    """A person attending an event. One attendee per e-mail address per event, compared in
    ``email_key``'s normalised form (``core.text.email_key``: NFKC case-folded local
    part, IDNA domain), so ``\u017fam@`` (long s) and ``sam@``, ``müller.de`` and
    ``xn--mller-kva.de`` are one attendee; ``email`` keeps the address as typed for showing
    and sending."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attendees")
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    # Derived from ``email`` on every save (a folded local part can grow, e.g. ß -> ss).
    email_key = models.CharField(max_length=600, editable=False)
    organisation = models.CharField(max_length=200, blank=True)
    language = models.CharField(
        max_length=8, choices=list(languages.LANGUAGES), default=languages.DEFAULT
    )
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    # What searches compare (``core.text.search_key``: accent-, case- and script-blind),
    # derived on every save like ``email_key``: the door searches ``search_name`` (name and
    # organisation, one line each so that no match spans both), the organiser API and the
    # console also ``search_email``. On PostgreSQL each has a pg_trgm GIN index (migration
    # 0007), which ``LIKE '%q%'`` uses; ``tickets.selectors.attendee_match`` builds the match.
    search_name = models.TextField(editable=False, default="")
    search_email = models.TextField(editable=False, default="")

    class Meta:
        ordering = ["event", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "email_key"], name="attendee_unique_email_key"
            ),
        ]
        indexes = [
            models.Index(fields=["event", "organisation"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def save(self, *args, **kwargs) -> None:
        # The key follows the address whoever saves (services validate before this).
        self.email = self.email.strip().lower()
        try:
            self.email_key = email_key(self.email)
        except TextRefused:  # not an address: refused by validation before any save
            self.email_key = self.email
        self.search_name, self.search_email = self.search_keys()
        fields = kwargs.get("update_fields")
        if fields is not None:
            derived = {"email": {"email_key", "search_email"}, "name": {"search_name"},
                       "organisation": {"search_name"}}
            kwargs["update_fields"] = {*fields, *(k for f in fields for k in derived.get(f, ()))}
        super().save(*args, **kwargs)

    def search_keys(self) -> tuple[str, str]:
        """(``search_name``, ``search_email``) as they must be for the current values."""
        return attendee_search_keys(self.name, self.organisation, self.email)


def attendee_search_keys(name: str, organisation: str, email: str) -> tuple[str, str]:
    """An attendee's (``search_name``, ``search_email``): one function for ``save``, the data
    migration (which has no model methods) and the test holding every write path to it."""
    # "\n" joins the two lines: a folded query never holds one, so no match spans both.
    return f"{search_key(name)}\n{search_key(organisation)}", search_key(email)


class Ticket(models.Model):
    class Status(models.TextChoices):
        VALID = "valid", "valid"
        REVOKED = "revoked", "revoked"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="tickets")
    attendee = models.ForeignKey(Attendee, on_delete=models.CASCADE, related_name="tickets")
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="tickets")
    serial = models.PositiveIntegerField()
    # Short human reference (e.g. "K7QX-M2P9") for typing in by hand at the door.
    reference = models.CharField(max_length=16)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.VALID)
    # Bumped on revoke and on reissue: a QR code signed for an older version is refused.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["event", "serial"]
        constraints = [
            models.UniqueConstraint(fields=["event", "serial"], name="ticket_unique_serial"),
            models.UniqueConstraint(fields=["event", "reference"], name="ticket_unique_reference"),
            models.UniqueConstraint(
                fields=["attendee"],
                condition=Q(status="valid"),
                name="ticket_one_valid_per_attendee",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.serial} {self.reference}"


class EventKey(models.Model):
    """An Ed25519 signing key of an event. Several may exist (rotation); one signs new codes."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="keys")
    # Raw 32-byte keys, base64url. The private key never leaves the server and is stored
    # encrypted with VARCO_ENCRYPTION_KEYS (a Fernet token, core/encryption.py): read it with
    # ``tickets.services.signing_key()``, never from this field.
    private_key = models.TextField(editable=False)
    public_key = models.CharField(max_length=64, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        ordering = ["event", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event"], condition=Q(active=True), name="eventkey_one_active_per_event"
            ),
        ]

    def __str__(self) -> str:
        return f"key {self.pk} of {self.event_id}"


class ApiToken(models.Model):
    """An organiser's API token (``Authorization: Token …``); one per user.

    Like a scanner device's token, it is shown once, when it is made; the database keeps only
    its SHA-256 (``tickets.auth``), so a copy of the database authenticates nobody.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organiser_api_token"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"API token of {self.user_id}"


class Delivery(models.Model):
    """One e-mail carrying a ticket to its attendee, with its durable state.

    The table is the delivery queue's source of truth; broker messages only say "look at these
    rows". Life cycle (see tickets.delivery for the rules)::

        queued ──claim──> sending ──250──> sent
          ^                 │  └──4xx / lost before hand-over──> queued (backoff)
          │                 │  └──5xx or too many attempts──> failed
          └──re-send─── in_doubt <──lost after hand-over (sweep)

    ``handed_at`` is committed just before the message is handed to the SMTP server: a worker
    that dies without it never reached the server (safe to re-send); one that dies with it is
    *in doubt* and is re-sent with the same Message-ID (``in_doubt_count`` tells the organiser).
    """

    class State(models.TextChoices):
        QUEUED = "queued", "queued"
        SENDING = "sending", "sending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"
        IN_DOUBT = "in_doubt", "in doubt"
        CANCELLED = "cancelled", "cancelled"

    class Reason(models.TextChoices):
        ISSUED = "issued", "issued"  # automatic, when a ticket (version) is issued
        RESEND = "resend", "resend"  # asked by an organiser or by issue_tickets

    OPEN_STATES = (State.QUEUED, State.SENDING, State.IN_DOUBT)

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="deliveries")
    # The ticket version this message carries; a newer version supersedes it.
    version = models.PositiveIntegerField()
    reason = models.CharField(max_length=10, choices=Reason.choices, default=Reason.ISSUED)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    # Transmissions started (each recorded before the message goes to the SMTP server).
    attempts = models.PositiveIntegerField(default=0)
    # Times a worker died between handing the message over and recording the answer.
    in_doubt_count = models.PositiveIntegerField(default=0)
    message_id = models.CharField(max_length=200, unique=True)
    recipient = models.EmailField(max_length=254)
    # The SMTP server's last answer (error or "250 ...") or why the worker gave up.
    last_error = models.TextField(blank=True)
    smtp_response = models.CharField(max_length=500, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, db_index=True)
    queued_at = models.DateTimeField(default=dj_timezone.now)
    next_attempt_at = models.DateTimeField(default=dj_timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    handed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            # A ticket version is queued at most once at a time (double clicks, races, sweep).
            models.UniqueConstraint(
                fields=["ticket", "version"],
                condition=Q(state__in=["queued", "sending", "in_doubt"]),
                name="delivery_one_open_per_ticket_version",
            ),
            # Issuing (hook, sweep, issue_tickets) creates one automatic delivery per version.
            models.UniqueConstraint(
                fields=["ticket", "version"],
                condition=Q(reason="issued"),
                name="delivery_one_issued_per_ticket_version",
            ),
            models.CheckConstraint(
                condition=~Q(state="sent") | Q(sent_at__isnull=False),
                name="delivery_sent_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["ticket", "version"], name="delivery_ticket_version"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of ticket {self.ticket_id} v{self.version}: {self.state}"
