"""Organiser-side serializers for check-in lists, devices and the scan log."""

from __future__ import annotations

from rest_framework import serializers

from checkin.models import CheckinList, Device, Direction, ScanLog
from tickets.models import TicketType


class CheckinListSerializer(serializers.ModelSerializer):
    ticket_types = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=TicketType.objects.none(),
        help_text="Admitted ticket types; empty admits every type of the event.",
    )

    class Meta:
        model = CheckinList
        fields = ["id", "name", "ticket_types", "allow_reentry", "allow_exit", "opens_at",
                  "closes_at", "position"]
        # opens_at, closes_at: the model's own validator (core.instants.validate_instant)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        event = self.context.get("event")
        if event is not None:
            self.fields["ticket_types"].child_relation.queryset = TicketType.objects.filter(
                event=event
            )

    def to_representation(self, instance: CheckinList) -> dict:
        data = super().to_representation(instance)
        if instance.all_ticket_types:
            data["ticket_types"] = []
        return data


class DeviceSerializer(serializers.ModelSerializer):
    lists = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=CheckinList.objects.none(),
        help_text="Allowed check-in lists; omitted on creation: all lists of the event.",
    )
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "name", "gate", "lists", "token_hint", "created_at", "revoked",
                  "revoked_at", "last_seen_at"]
        read_only_fields = ["token_hint", "created_at", "revoked_at", "last_seen_at"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        event = self.context.get("event")
        if event is not None:
            self.fields["lists"].child_relation.queryset = CheckinList.objects.filter(event=event)

    def get_revoked(self, device: Device) -> bool:
        return device.is_revoked


class DeviceTokenSerializer(DeviceSerializer):
    """A device with its token: returned once, on creation and on token rotation."""

    token = serializers.CharField(read_only=True)
    pairing_url = serializers.CharField(read_only=True)
    pairing_qr_svg = serializers.CharField(read_only=True)

    class Meta(DeviceSerializer.Meta):
        fields = [*DeviceSerializer.Meta.fields, "token", "pairing_url", "pairing_qr_svg"]


class ScanLogSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="direction")
    # null for a staff member's manual check-in (no device) or an unknown ticket: the schema
    # says so, or clients generated from it reject those rows.
    gate = serializers.CharField(source="device.gate", default=None, allow_null=True)
    device_name = serializers.CharField(source="device.name", default=None, allow_null=True)
    reference = serializers.CharField(source="ticket.reference", default=None, allow_null=True)
    attendee = serializers.CharField(source="ticket.attendee.name", default=None,
                                     allow_null=True)
    organisation = serializers.CharField(source="ticket.attendee.organisation", default=None,
                                         allow_null=True)
    annuls = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = ScanLog
        fields = ["id", "list", "device", "device_name", "gate", "user", "ticket", "reference",
                  "attendee", "organisation", "type", "result", "reason", "source", "nonce",
                  "scanned_at", "received_at", "untrusted_scanned_at", "checked_in_at",
                  "first_checked_in_at", "conflict", "annuls"]
        read_only_fields = fields


class ManualCheckinSerializer(serializers.Serializer):
    # a bigint id: larger values cannot name a ticket (and would overflow the query)
    ticket = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    type = serializers.ChoiceField(choices=[Direction.ENTRY, Direction.EXIT],
                                   default=Direction.ENTRY)


class ScanAnswerSerializer(serializers.Serializer):
    """The scan endpoint's answer (documentation only)."""

    status = serializers.CharField(help_text='"ok" or "rejected"')
    reason = serializers.CharField(
        allow_null=True,
        help_text="null, already_checked_in, invalid, unknown, revoked, wrong_event, "
        "not_allowed or closed",
    )
    attendee = serializers.DictField(allow_null=True)
    checked_in_at = serializers.DateTimeField(allow_null=True)
    first_checked_in_at = serializers.DateTimeField(allow_null=True)
