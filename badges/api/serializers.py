"""Input and output of the print station API and the organiser's print API: bounded and
validated once, here, at the edge (unknown keys refused, strings capped)."""

from __future__ import annotations

from django.urls import reverse
from reportlab.lib.units import mm
from rest_framework import serializers

from badges.jobs import stations
from badges.jobs.claims import Claimed
from badges.models import JobState, PrintJob, PrintStation
from core.api.serializers import StrictFieldsMixin

CLAIM_PATTERN = r"^[0-9a-f]{32}$"


class _Input(StrictFieldsMixin, serializers.Serializer):
    @classmethod
    def read(cls, data) -> dict:
        serializer = cls(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class ClaimInput(_Input):
    wait = serializers.FloatField(min_value=0, max_value=25, default=0)


class HandedInput(_Input):
    claim = serializers.RegexField(CLAIM_PATTERN, max_length=32,
                                   error_messages={"invalid": "Not a claim of this server."})


class PrintedInput(HandedInput):
    printer_job = serializers.CharField(max_length=200, allow_null=True, allow_blank=True,
                                        required=False)


class FailedInput(HandedInput):
    error = serializers.CharField(max_length=1000, allow_blank=True, trim_whitespace=True)
    retry = serializers.BooleanField()


class ResolveInput(_Input):
    printed = serializers.BooleanField()


class ReprintInput(_Input):
    ticket = serializers.CharField(max_length=32, help_text="the ticket's id or reference")
    reason = serializers.CharField(max_length=500)
    station = serializers.IntegerField(min_value=1, max_value=2**62, required=False,
                                       allow_null=True)


class StationInput(_Input):
    name = serializers.CharField(max_length=100)
    gates = serializers.ListField(child=serializers.CharField(max_length=100), min_length=1,
                                  max_length=stations.MAX_GATES)
    output = serializers.DictField(required=False)

    def validate_output(self, value):
        if len(value) > 5:
            raise serializers.ValidationError("Too many keys.")
        return value


def station_info(station: PrintStation) -> dict:
    """What ``GET /api/v1/badges/station/`` answers (and the organiser's station list)."""
    return {
        "id": station.pk, "name": station.name,
        "event": {"id": station.event_id, "name": station.event.name},
        "gates": sorted(gate.gate for gate in station.gates.all()),
        "output": stations.output_of(station),
    }


def _mm(points: float) -> float:
    return round(points / mm, 1)


def claimed_job(found: Claimed) -> dict:
    job = found.job
    preset = job.layout.preset_spec
    return {
        "id": job.pk, "attempt": job.attempt, "claim": found.claim,
        "ticket": job.ticket.reference, "name": job.ticket.attendee.name, "gate": job.gate,
        "reprint": job.reprint,
        "layout": {"id": job.layout_id, "preset": job.layout.preset,
                   "width_mm": _mm(preset.page[0]), "height_mm": _mm(preset.page[1])},
        "pdf": reverse("badges-station-job-pdf", args=[job.pk]),
    }


class PrintJobSerializer(serializers.ModelSerializer):
    """A print job in the organiser's list."""

    station = serializers.SerializerMethodField()
    ticket = serializers.SerializerMethodField()
    name = serializers.CharField(source="ticket.attendee.name", read_only=True)
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = PrintJob
        fields = ["id", "station", "ticket", "name", "gate", "layout", "state", "attempt",
                  "reprint", "reason", "last_error", "printer_job", "created_at",
                  "claimed_at", "handed_at", "printed_at", "created_by"]
        read_only_fields = fields

    def get_station(self, job: PrintJob) -> dict:
        return {"id": job.station_id, "name": job.station.name}

    def get_ticket(self, job: PrintJob) -> dict:
        return {"id": job.ticket_id, "reference": job.ticket.reference}

    def get_created_by(self, job: PrintJob) -> str | None:
        return job.created_by.get_username() if job.created_by_id else None


STATES = JobState.values
