"""The attendance API's response shape, for the OpenAPI schema (the view returns plain dicts)."""

from __future__ import annotations

from rest_framework import serializers

from checkin.models import Reason


class _Figures(serializers.Serializer):
    registered = serializers.IntegerField(help_text="Attendees holding a valid ticket.")
    checked_in = serializers.IntegerField(help_text="Distinct attendees admitted at least once.")
    inside = serializers.IntegerField(help_text="Attendees inside now (entered, not exited).")
    no_shows = serializers.IntegerField(help_text="Valid ticket holders who have not entered.")


class ArrivalBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Start of the 5 minutes, event's time zone.")
    count = serializers.IntegerField(help_text="Attendees whose first entry falls in it.")


class ArrivalsSerializer(serializers.Serializer):
    bucket_minutes = serializers.IntegerField()
    timezone = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    buckets = ArrivalBucketSerializer(many=True)
    outside = serializers.IntegerField(help_text="First entries on other days than the event's.")
    rehearsal = serializers.DateField(
        allow_null=True,
        help_text="Set while no first entry falls on the event's day(s): the buckets are then "
        "those of this other day, the latest with first entries (a rehearsal, test scans), "
        "from the hour of its first arrival to the end of the hour of its last.",
    )


class TicketTypeFiguresSerializer(_Figures):
    id = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)
    name_i18n = serializers.DictField(child=serializers.CharField())


class OrganisationFiguresSerializer(_Figures):
    organisation = serializers.CharField(allow_blank=True)


class _ScanCounts(serializers.Serializer):
    scans = serializers.IntegerField(help_text="Entry and exit scans, accepted or rejected.")
    entries = serializers.IntegerField(help_text="Accepted entries, less undone ones.")
    exits = serializers.IntegerField()
    rejected = serializers.IntegerField()
    annulled = serializers.IntegerField(help_text="Scans undone by the device.")


class DeviceFiguresSerializer(_ScanCounts):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(allow_null=True, allow_blank=True)
    last_scan_at = serializers.DateTimeField(allow_null=True)


class GateFiguresSerializer(_ScanCounts):
    gate = serializers.CharField(
        allow_null=True,
        allow_blank=True,
        help_text="The devices' gate (or name); null for manual check-ins.",
    )
    per_minute = serializers.ListField(
        child=serializers.IntegerField(), help_text="Scans in each of the last 15 minutes."
    )
    last_minute = serializers.IntegerField(
        help_text="The pace: scans in the sliding minute up to now (5-second steps)."
    )
    devices = DeviceFiguresSerializer(many=True)


# Rejected scans by reason: one integer per reason the scan endpoint can give.
RejectedSerializer = type(
    "RejectedSerializer",
    (serializers.Serializer,),
    {reason.value: serializers.IntegerField() for reason in Reason},
)


class ConflictSerializer(serializers.Serializer):
    scan_id = serializers.IntegerField()
    ticket_id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(allow_null=True, allow_blank=True)
    organisation = serializers.CharField(allow_null=True, allow_blank=True)
    device = serializers.CharField(allow_null=True, allow_blank=True)
    gate = serializers.CharField(allow_null=True, allow_blank=True)
    scanned_at = serializers.DateTimeField()
    first_checked_in_at = serializers.DateTimeField(allow_null=True)


class ConflictsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Offline scans refused on upload: entered twice.")
    recent = ConflictSerializer(many=True)


class AttendanceSerializer(_Figures):
    arrivals = ArrivalsSerializer()
    by_ticket_type = TicketTypeFiguresSerializer(many=True)
    by_organisation = OrganisationFiguresSerializer(many=True)
    by_gate = GateFiguresSerializer(many=True)
    rejected = RejectedSerializer()
    conflicts = ConflictsSerializer()
    as_of = serializers.DateTimeField()
