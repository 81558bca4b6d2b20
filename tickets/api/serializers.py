"""Serializers: shape and validate input; the rules themselves live in tickets.services."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import instants, languages
from core.api.serializers import ErrorSerializer, StrictFieldsMixin, plausible_datetime
from tickets.links import logo_url
from tickets.models import (
    Attendee,
    Delivery,
    Event,
    Organiser,
    Ticket,
    TicketType,
    validate_translations,
)
from tickets.selectors import latest_delivery, organisers_for_user

# Counts are stored in 32-bit integer columns on every database; say so before the database does.
MAX_COUNT = 2**31 - 1
class OrganiserSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organiser
        fields = ["id", "name", "slug"]


class EventDateTimeField(serializers.DateTimeField):
    """A start/end given without a UTC offset is read in the event's own time zone.

    (DRF would read it in the server's time zone, which is wrong for an event elsewhere.)
    """

    _input_zone: zoneinfo.ZoneInfo | None = None

    def to_internal_value(self, value):
        self._input_zone = self._event_zone()
        try:
            parsed = super().to_internal_value(value)
        finally:
            self._input_zone = None
        plausible_datetime(parsed)
        return parsed

    def default_timezone(self):
        return self._input_zone or super().default_timezone()

    def _event_zone(self) -> zoneinfo.ZoneInfo | None:
        data = getattr(self.parent, "initial_data", None)
        name = data.get("timezone") if isinstance(data, Mapping) else None
        if not name and isinstance(self.parent.instance, Event):
            name = self.parent.instance.timezone
        if isinstance(name, str) and name in zoneinfo.available_timezones():
            return zoneinfo.ZoneInfo(name)
        return None


class EventLocalTimesMixin:
    """Show start/end in the event's own time zone (the hours on the ticket, 09:30-17:00)."""

    def to_representation(self, instance: Event) -> dict:
        data = super().to_representation(instance)
        for name in ("start", "end"):
            if name in data and getattr(instance, name, None):
                data[name] = getattr(instance, name).astimezone(instance.tzinfo).isoformat()
        return data


class EventSerializer(EventLocalTimesMixin, StrictFieldsMixin, serializers.ModelSerializer):
    """An event of one of the caller's teams; times in the event's own time zone."""

    organiser = serializers.PrimaryKeyRelatedField(queryset=Organiser.objects.none())
    start = EventDateTimeField()
    end = EventDateTimeField()
    languages = serializers.ListField(
        child=serializers.ChoiceField(choices=list(languages.LANGUAGES)), allow_empty=False,
        max_length=5,
        required=False,
    )
    timezone = serializers.CharField(max_length=64, required=False)
    issued_count = serializers.IntegerField(read_only=True)
    # The ticket's look; shapes here, rules in tickets.services.event_design (one owner).
    logo = serializers.CharField(
        write_only=True, required=False, allow_blank=True, allow_null=True, trim_whitespace=True,
        help_text="The logo image (PNG, JPEG, GIF or WebP, at most 160 KB) in base64, or a "
                  "data: URL; empty or null removes it. Read it back at logo_url.",
    )
    logo_url = serializers.SerializerMethodField()
    brand_color = serializers.CharField(
        required=False, allow_blank=True, max_length=16, help_text="#rrggbb, or empty.",
    )
    practical_info = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField(allow_blank=True,
                                                                max_length=2000)),
        required=False,
        help_text="{language: {directions|programme|contact: text}}; multi-line texts.",
    )
    ticket_languages = serializers.ChoiceField(
        choices=Event.TicketLanguages.choices, required=False,
        help_text="attendee: each ticket in its attendee's language; all: every language of "
                  "the event on each ticket.",
    )

    class Meta:
        model = Event
        fields = [
            "id", "organiser", "name", "slug", "description", "venue", "address", "timezone",
            "start", "end", "languages", "capacity", "issued_count", "registration_open",
            "logo", "logo_url", "brand_color", "practical_info", "ticket_languages",
        ]
        extra_kwargs = {"capacity": {"max_value": MAX_COUNT}}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["organiser"].queryset = organisers_for_user(request.user)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_logo_url(self, event: Event) -> str | None:
        return logo_url(event)

    def validate_timezone(self, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError(f"Unknown time zone {value!r}.")
        return value

    def validate(self, attrs: dict) -> dict:
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start and end and end <= start:
            raise serializers.ValidationError({"end": "The end must be after the start."})
        if instants.too_long(start, end):
            raise serializers.ValidationError({"end": instants.TOO_LONG_TEXT})
        capacity = attrs.get("capacity")
        if self.instance and capacity is not None and capacity < self.instance.issued_count:
            raise serializers.ValidationError(
                {"capacity": f"{self.instance.issued_count} tickets are already issued."}
            )
        return attrs


class TicketTypeSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A kind of ticket of an event (name, price, its own capacity)."""

    issued_count = serializers.IntegerField(read_only=True)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    # The model's validator (keys are language codes; a NUL in a key was a 500 from
    # PostgreSQL's jsonb): DRF runs Django validators and reports their messages.
    name_i18n = serializers.DictField(
        child=serializers.CharField(max_length=200), required=False,
        validators=[validate_translations],
    )

    class Meta:
        model = TicketType
        fields = ["id", "name", "name_i18n", "price", "capacity", "issued_count", "public",
                  "position"]
        extra_kwargs = {"capacity": {"max_value": MAX_COUNT}, "position": {"max_value": MAX_COUNT}}

    def validate_capacity(self, value: int | None) -> int | None:
        if self.instance and value is not None and value < self.instance.issued_count:
            raise serializers.ValidationError(
                f"{self.instance.issued_count} tickets of this type are already issued."
            )
        return value


class DeliverySerializer(serializers.ModelSerializer):
    """The e-mail delivery of a ticket: state, tries and the SMTP server's last answer."""

    possible_duplicate = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = ["id", "state", "reason", "version", "recipient", "attempts", "last_error",
                  "smtp_response", "message_id", "in_doubt_count", "possible_duplicate",
                  "queued_at", "next_attempt_at", "sent_at", "updated_at"]
        read_only_fields = fields

    def get_possible_duplicate(self, obj: Delivery) -> bool:
        """True if a copy may have arrived twice (re-sent under the in-doubt rule)."""
        return obj.in_doubt_count > 0


class TicketSerializer(serializers.ModelSerializer):
    ticket_type = serializers.CharField(source="ticket_type.name", read_only=True)
    ticket_type_id = serializers.IntegerField(read_only=True)
    delivery = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = ["id", "serial", "reference", "status", "version", "ticket_type",
                  "ticket_type_id", "created_at", "delivery"]
        read_only_fields = fields

    @extend_schema_field(DeliverySerializer(allow_null=True))
    def get_delivery(self, obj: Ticket) -> dict | None:
        """The latest e-mail delivery of the ticket (null if it was never queued)."""
        latest = latest_delivery(obj)
        return DeliverySerializer(latest).data if latest else None


class AttendeeSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A registered person and their tickets (edits: the rules are ``services.update_attendee``)."""

    tickets = TicketSerializer(many=True, read_only=True)

    class Meta:
        model = Attendee
        fields = ["id", "name", "email", "organisation", "language", "created_at", "tickets"]
        read_only_fields = ["id", "created_at", "tickets"]


class RegistrationSerializer(StrictFieldsMixin, serializers.Serializer):
    """Input of a registration, public or by an organiser."""

    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254)
    organisation = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                         default="")
    language = serializers.ChoiceField(choices=list(languages.LANGUAGES), required=False)
    ticket_type = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


def validate_registration(data) -> dict:
    """``RegistrationSerializer(data=data)``'s validated data, or its very ValidationError.

    A JSON object (a dict, the registration rush's case) is checked by the serializer's own
    declared fields, each validating its value, without building a serializer: DRF deep-copies
    every declared field for each serializer it builds, which with the rest cost ~0.2 ms of
    the web process's CPU per registration (docs/benchmarks.md, "Registration"). The fields
    are never bound or changed, so sharing them between threads is safe. Anything else (form
    data, a JSON array or null) goes through the serializer as before.
    """
    if type(data) is not dict:
        serializer = RegistrationSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
    fields = RegistrationSerializer._declared_fields
    StrictFieldsMixin.refuse_unknown(data, fields)
    validated, errors = {}, {}
    for name, field in fields.items():
        try:
            validated[name] = field.run_validation(data.get(name, serializers.empty))
        except serializers.SkipField:
            pass
        except serializers.ValidationError as exc:
            errors[name] = exc.detail
    if errors:
        raise serializers.ValidationError(errors)
    return validated


class RegistrationResultSerializer(serializers.Serializer):
    attendee = AttendeeSerializer()
    ticket = TicketSerializer()


class PublicTicketTypeSerializer(serializers.ModelSerializer):
    available = serializers.SerializerMethodField()

    class Meta:
        model = TicketType
        fields = ["id", "name", "name_i18n", "price", "available"]

    def get_available(self, obj: TicketType) -> bool:
        return obj.capacity is None or obj.issued_count < obj.capacity


class PublicEventSerializer(EventLocalTimesMixin, serializers.ModelSerializer):
    ticket_types = serializers.SerializerMethodField()
    sold_out = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ["id", "name", "slug", "description", "venue", "address", "timezone", "start",
                  "end", "languages", "registration_open", "sold_out", "ticket_types"]

    def get_ticket_types(self, obj: Event) -> list[dict]:
        types = obj.ticket_types.filter(public=True)
        return PublicTicketTypeSerializer(types, many=True).data

    def get_sold_out(self, obj: Event) -> bool:
        return obj.capacity is not None and obj.issued_count >= obj.capacity


class PublicTicketSerializer(serializers.Serializer):
    reference = serializers.CharField()
    status = serializers.CharField()


class PublicAttendeeSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.EmailField()


class PublicRegistrationResultSerializer(serializers.Serializer):
    """What the public registration answers: only the registrant's own data."""

    ticket = PublicTicketSerializer()
    attendee = PublicAttendeeSerializer()


class RowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    field = serializers.CharField()
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    skipped = serializers.IntegerField()
    committed = serializers.BooleanField()
    errors = RowErrorSerializer(many=True)


class ImportRefusedSerializer(ErrorSerializer):
    """A refused import: the error shape; when rows were bad, also the per-line report
    (nothing was imported: ``committed`` is false)."""

    created = serializers.IntegerField(required=False)
    skipped = serializers.IntegerField(required=False)
    committed = serializers.BooleanField(required=False)
    errors = RowErrorSerializer(many=True, required=False)


class ImportUploadSerializer(serializers.Serializer):
    """The multipart form of the import (the other form is a raw ``text/csv`` body)."""

    file = serializers.FileField(help_text="the CSV file")


class AuditEntrySerializer(serializers.Serializer):
    """One entry of the event's audit log: who did what, when (``audit.actions``)."""

    id = serializers.IntegerField(read_only=True)
    at = serializers.DateTimeField(read_only=True)
    action = serializers.CharField(read_only=True)
    action_label = serializers.CharField(read_only=True)
    who = serializers.CharField(source="actor_label", read_only=True)
    via = serializers.CharField(read_only=True)
    object_type = serializers.CharField(read_only=True)
    object_id = serializers.IntegerField(read_only=True, allow_null=True)
    object = serializers.CharField(source="object_label", read_only=True)
    attendee_id = serializers.IntegerField(read_only=True, allow_null=True)
    data = serializers.JSONField(read_only=True)


class AuditQuerySerializer(serializers.Serializer):
    attendee = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
