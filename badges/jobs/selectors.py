"""Reads of print on arrival: stations, jobs per station/gate/state, failures and doubts."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from badges.models import JobState, ListPrinting, PrintJob, PrintStation
from tickets.models import Event

# What staff must look at: badges that failed for good and badges that may not have printed.
NEEDS_ATTENTION = (JobState.FAILED, JobState.IN_DOUBT)


def stations_for_event(event: Event, include_revoked: bool = False) -> QuerySet[PrintStation]:
    stations = PrintStation.objects.filter(event=event).prefetch_related("gates")
    return stations if include_revoked else stations.filter(revoked_at__isnull=True)


def station_of_event(event: Event, station_id: int) -> PrintStation | None:
    return stations_for_event(event, include_revoked=True).filter(pk=station_id).first()


def jobs_for_event(event: Event, *, station: int | None = None, gate: str | None = None,
                   states: list[str] | None = None) -> QuerySet[PrintJob]:
    """An event's jobs, newest first, optionally of one station, one gate, some states."""
    jobs = PrintJob.objects.filter(event=event).select_related(
        "station", "ticket__attendee", "layout")
    if station is not None:
        jobs = jobs.filter(station_id=station)
    if gate is not None:
        jobs = jobs.filter(gate=gate)
    if states:
        jobs = jobs.filter(state__in=states)
    return jobs.order_by("-id")


def unfinished_for_station(station: PrintStation) -> QuerySet[PrintJob]:
    """A station's jobs in doubt, and its handed ones (in doubt for a station that restarted:
    it finds out whether they printed and resolves them)."""
    return PrintJob.objects.filter(
        station=station, state__in=[JobState.IN_DOUBT, JobState.HANDED]).order_by("id")


def summary(event: Event) -> list[dict]:
    """Per station and gate: how many jobs in each state (failures and doubts included)."""
    rows = (PrintJob.objects.filter(event=event)
            .values("station_id", "station__name", "gate")
            .annotate(total=Count("id"),
                      **{state: Count("id", filter=Q(state=state)) for state in JobState.values})
            .order_by("station__name", "gate"))
    return [{"station": {"id": row["station_id"], "name": row["station__name"]},
             "gate": row["gate"], "total": row["total"],
             "states": {state: row[state] for state in JobState.values}} for row in rows]


def list_printing(event: Event) -> QuerySet[ListPrinting]:
    return ListPrinting.objects.filter(checkin_list__event=event).select_related(
        "checkin_list", "layout", "default_station")
