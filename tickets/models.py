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
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

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

    name = models.CharField(verbose_name=_("name"), max_length=200)
    slug = models.SlugField(verbose_name=_("slug"), max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), related_name="organisers", blank=True
    )
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("organiser")
        verbose_name_plural = _("organisers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    organiser = models.ForeignKey(
        Organiser, verbose_name=_("organiser"), on_delete=models.PROTECT, related_name="events")
    name = models.CharField(verbose_name=_("name"), max_length=200)
    slug = models.SlugField(verbose_name=_("slug"), max_length=100, unique=True)
    description = models.TextField(verbose_name=_("description"), blank=True)
    venue = models.CharField(verbose_name=_("venue"), max_length=200, blank=True)
    address = models.CharField(verbose_name=_("address"), max_length=300, blank=True)
    timezone = models.CharField(
        verbose_name=_("timezone"), max_length=64, default="Europe/Rome", choices=_timezone_choices)
    start = models.DateTimeField(verbose_name=_("start"), validators=[validate_instant])
    end = models.DateTimeField(verbose_name=_("end"), validators=[validate_instant])
    # Ordered: the first language is the default for attendees who do not choose one.
    languages = models.JSONField(verbose_name=_("languages"), default=list, blank=True)
    # None means unlimited; ``issued_count`` is kept in step by services.register/revoke.
    capacity = models.PositiveIntegerField(verbose_name=_("capacity"), null=True, blank=True)
    issued_count = models.PositiveIntegerField(
        verbose_name=_("issued count"), default=0, editable=False)
    # Serials are never reused, even after a revocation frees a place.
    last_serial = models.PositiveIntegerField(
        verbose_name=_("last serial"), default=0, editable=False)
    registration_open = models.BooleanField(verbose_name=_("registration open"), default=True)
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=dj_timezone.now, editable=False)
    # The ticket's look (tickets/services/event_design.py validates all four). The logo is kept
    # in the database, already normalised (a flattened PNG of bounded size): every web and
    # worker host reads it with the event, with no shared file storage to set up or back up.
    logo = models.BinaryField(verbose_name=_("logo"), blank=True, default=b"", editable=False)
    brand_color = models.CharField(verbose_name=_("brand colour"), max_length=7, blank=True,
                                   default="")
    # {language: {"directions": text, "programme": text, "contact": text}}, multi-line texts.
    practical_info = models.JSONField(verbose_name=_("practical information"), default=dict,
                                      blank=True)

    class TicketLanguages(models.TextChoices):
        ATTENDEE = "attendee", _("the attendee's language")
        ALL = "all", _("all the event's languages on one ticket")

    ticket_languages = models.CharField(
        verbose_name=_("ticket languages"),
        max_length=10, choices=TicketLanguages.choices, default=TicketLanguages.ATTENDEE
    )

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
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
            errors["end"] = _("The end must be after the start.")
        elif instants.too_long(self.start, self.end):
            errors["end"] = instants.TOO_LONG_TEXT
        if self.capacity is not None and self.pk:
            issued = Event.objects.filter(pk=self.pk).values_list("issued_count", flat=True)
            if issued and self.capacity < issued[0]:
                errors["capacity"] = _("%(count)s tickets are already issued.") % {
                    "count": issued[0]}
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
    event = models.ForeignKey(
        Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="ticket_types")
    name = models.CharField(verbose_name=_("name"), max_length=200)
    # Translations of the name keyed by language code, e.g. {"en": "Admission"}.
    name_i18n = models.JSONField(
        verbose_name=_("name i18n"), default=dict, blank=True, validators=[validate_translations])
    price = models.DecimalField(verbose_name=_("price"), max_digits=10, decimal_places=2, default=0)
    capacity = models.PositiveIntegerField(verbose_name=_("capacity"), null=True, blank=True)
    issued_count = models.PositiveIntegerField(
        verbose_name=_("issued count"), default=0, editable=False)
    public = models.BooleanField(
        verbose_name=_("public"), default=True, help_text=_("Offered on the public registration."))
    position = models.PositiveIntegerField(verbose_name=_("position"), default=0)

    class Meta:
        verbose_name = _("ticket type")
        verbose_name_plural = _("ticket types")
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
                    {"capacity": _("%(count)s tickets of this type are already issued.")
                     % {"count": issued[0]}}
                )

    def localized_name(self, language: str) -> str:
        return (self.name_i18n or {}).get(language) or self.name


class Attendee(models.Model):
    """A person attending an event. One attendee per e-mail address per event, compared in
    ``email_key``'s normalised form (``core.text.email_key``: NFKC case-folded local
    part, IDNA domain), so ``\u017fam@`` (long s) and ``sam@``, ``müller.de`` and
    ``xn--mller-kva.de`` are one attendee; ``email`` keeps the address as typed for showing
    and sending."""

    # No index of its own: attendee_unique_email_key (event, email_key) serves look-ups by
    # event, and every registration would write one more index entry for nothing.
    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE,
                              related_name="attendees", db_index=False)
    name = models.CharField(verbose_name=_("name"), max_length=200)
    email = models.EmailField(verbose_name=_("email"), max_length=254)
    # Derived from ``email`` on every save (a folded local part can grow, e.g. ß -> ss).
    email_key = models.CharField(verbose_name=_("email key"), max_length=600, editable=False)
    organisation = models.CharField(verbose_name=_("organisation"), max_length=200, blank=True)
    language = models.CharField(verbose_name=_("language"),
        max_length=8, choices=list(languages.LANGUAGES), default=languages.DEFAULT
    )
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=dj_timezone.now, editable=False)
    # What searches compare (``core.text.search_key``: accent-, case- and script-blind),
    # derived on every save like ``email_key``: the door searches ``search_name`` (name and
    # organisation, one line each so that no match spans both), the organiser API and the
    # console also ``search_email``. On PostgreSQL each has a pg_trgm GIN index (migration
    # 0007), which ``LIKE '%q%'`` uses; ``tickets.selectors.attendee_match`` builds the match.
    search_name = models.TextField(verbose_name=_("search key (name)"), editable=False,
                                   default="")
    search_email = models.TextField(verbose_name=_("search key (e-mail)"), editable=False,
                                    default="")

    class Meta:
        verbose_name = _("attendee")
        verbose_name_plural = _("attendees")
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
        VALID = "valid", _("valid")
        REVOKED = "revoked", _("revoked")

    # (Indexed by ticket_unique_serial and ticket_unique_reference, which lead with it.)
    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE,
                              related_name="tickets", db_index=False)
    attendee = models.ForeignKey(
        Attendee, verbose_name=_("attendee"), on_delete=models.CASCADE, related_name="tickets")
    ticket_type = models.ForeignKey(
        TicketType, verbose_name=_("ticket type"), on_delete=models.PROTECT, related_name="tickets")
    serial = models.PositiveIntegerField(verbose_name=_("serial"))
    # Short human reference (e.g. "K7QX-M2P9") for typing in by hand at the door.
    reference = models.CharField(verbose_name=_("reference"), max_length=16)
    status = models.CharField(
        verbose_name=_("status"), max_length=10, choices=Status.choices, default=Status.VALID)
    # Bumped on revoke and on reissue: a QR code signed for an older version is refused.
    version = models.PositiveIntegerField(verbose_name=_("version"), default=1)
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), default=dj_timezone.now)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
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

    event = models.ForeignKey(
        Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="keys")
    # Raw 32-byte keys, base64url. The private key never leaves the server and is stored
    # encrypted with VARCO_ENCRYPTION_KEYS (a Fernet token, core/encryption.py): read it with
    # ``tickets.services.signing_key()``, never from this field.
    private_key = models.TextField(verbose_name=_("private key"), editable=False)
    public_key = models.CharField(verbose_name=_("public key"), max_length=64, editable=False)
    active = models.BooleanField(verbose_name=_("active"), default=True)
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("signing key")
        verbose_name_plural = _("signing keys")
        ordering = ["event", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event"], condition=Q(active=True), name="eventkey_one_active_per_event"
            ),
        ]

    def __str__(self) -> str:
        return gettext("key %(key)s of event %(event)s") % {"key": self.pk, "event": self.event_id}


class ApiToken(models.Model):
    """An organiser's API token (``Authorization: Token …``); one per user.

    Like a scanner device's token, it is shown once, when it is made; the database keeps only
    its SHA-256 (``tickets.auth``), so a copy of the database authenticates nobody.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"),
        on_delete=models.CASCADE, related_name="organiser_api_token"
    )
    token_hash = models.CharField(
        verbose_name=_("token hash"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return gettext("API token of user %(user)s") % {"user": self.user_id}


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
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        IN_DOUBT = "in_doubt", _("in doubt")
        CANCELLED = "cancelled", _("cancelled")

    class Reason(models.TextChoices):
        ISSUED = "issued", _("issued")  # automatic, when a ticket (version) is issued
        RESEND = "resend", _("resend")  # asked by an organiser or by issue_tickets

    OPEN_STATES = (State.QUEUED, State.SENDING, State.IN_DOUBT)

    # (Indexed by delivery_ticket_version, which leads with it.)
    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="deliveries", db_index=False)
    # The ticket version this message carries; a newer version supersedes it.
    version = models.PositiveIntegerField(verbose_name=_("version"))
    reason = models.CharField(
        verbose_name=_("reason"), max_length=10, choices=Reason.choices, default=Reason.ISSUED)
    state = models.CharField(
        verbose_name=_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    # Transmissions started (each recorded before the message goes to the SMTP server).
    attempts = models.PositiveIntegerField(verbose_name=_("attempts"), default=0)
    # Times a worker died between handing the message over and recording the answer.
    in_doubt_count = models.PositiveIntegerField(verbose_name=_("in doubt count"), default=0)
    message_id = models.CharField(verbose_name=_("message id"), max_length=200)
    recipient = models.EmailField(verbose_name=_("recipient"), max_length=254)
    # The SMTP server's last answer (error or "250 ...") or why the worker gave up.
    last_error = models.TextField(verbose_name=_("last error"), blank=True)
    smtp_response = models.CharField(verbose_name=_("smtp response"), max_length=500, blank=True)
    claim_token = models.CharField(verbose_name=_("claim token"), max_length=32, blank=True)
    queued_at = models.DateTimeField(verbose_name=_("queued at"), default=dj_timezone.now)
    next_attempt_at = models.DateTimeField(
        verbose_name=_("next attempt at"), default=dj_timezone.now)
    claimed_at = models.DateTimeField(verbose_name=_("claimed at"), null=True, blank=True)
    handed_at = models.DateTimeField(verbose_name=_("handed at"), null=True, blank=True)
    sent_at = models.DateTimeField(verbose_name=_("sent at"), null=True, blank=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), default=dj_timezone.now)

    class Meta:
        verbose_name = _("e-mail delivery")
        verbose_name_plural = _("e-mail deliveries")
        ordering = ["-id"]
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
            # A constraint, not ``unique=True``: on PostgreSQL that also made a second index
            # for LIKE queries no one makes, written at every registration.
            models.UniqueConstraint(fields=["message_id"], name="delivery_unique_message_id"),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["ticket", "version"], name="delivery_ticket_version"),
            # Only claimed rows have a token (a worker finds its claims by it): the rows
            # waiting or done, i.e. nearly all, stay out of the index.
            models.Index(fields=["claim_token"], condition=~Q(claim_token=""),
                         name="delivery_claimed"),
        ]

    def __str__(self) -> str:
        return gettext("e-mail %(id)s of ticket %(ticket)s v%(version)s: %(state)s") % {
            "id": self.pk, "ticket": self.ticket_id, "version": self.version,
            "state": self.get_state_display()}
