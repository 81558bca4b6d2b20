"""The organiser's print API (session or organiser token, event-scoped: another organiser's
event is a 404): the event's print jobs (filters), reprint with a reason, resolving a badge
in doubt, and the event's print stations (list, pair a new one: its token is shown once)."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from badges.api.serializers import (
    STATES,
    PrintJobSerializer,
    ReprintInput,
    ResolveInput,
    StationInput,
    station_info,
)
from badges.jobs import claims, queue, selectors, stations
from badges.models import PrintJob
from core.api.serializers import ErrorSerializer
from core.api.views import EVENT_PARAM, EventScopedMixin
from tickets.models import Ticket
from tickets.selectors import events_for_user

_FILTERS = {"station", "gate", "state", "limit", "offset"}


def _filters(params) -> dict:
    """The list's filters from the query string: unknown or repeated ones are a 400."""
    problems: dict[str, list[str]] = {}
    for name in params:
        if name not in _FILTERS:
            problems[name] = ["Unknown parameter."]
        elif len(params.getlist(name)) > 1 and name != "state":
            problems[name] = ["Give it once."]
    result: dict = {}
    station = params.get("station")
    if station is not None:
        if not station.isdigit() or len(station) > 18:
            problems["station"] = ["A print station's id."]
        else:
            result["station"] = int(station)
    gate = params.get("gate")
    if gate is not None:
        if len(gate) > 100:
            problems["gate"] = ["At most 100 characters."]
        result["gate"] = gate
    states = params.getlist("state")
    if len(states) > len(STATES) or any(state not in STATES for state in states):
        problems["state"] = [f"One or more of: {', '.join(STATES)}."]
    result["states"] = states
    if problems:
        raise ValidationError(problems)
    return result


class PrintJobList(EventScopedMixin, generics.ListAPIView):
    """The event's print jobs, newest first (``?station=&gate=&state=``; ``state``
    repeatable, e.g. ``state=failed&state=in_doubt`` for what needs staff)."""

    events_for = staticmethod(events_for_user)
    serializer_class = PrintJobSerializer

    @extend_schema(operation_id="events_print_jobs_list", parameters=[
        EVENT_PARAM, OpenApiParameter("station", int),
        OpenApiParameter("gate", str), OpenApiParameter("state", str, enum=STATES, many=True)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PrintJob.objects.none()
        filters = _filters(self.request.query_params)
        return selectors.jobs_for_event(self.event, **filters).select_related("created_by")


def _ticket(event, value: str) -> Ticket:
    value = value.strip()
    match = Q(reference__iexact=value)
    if value.isdigit() and len(value) <= 18:
        match |= Q(pk=int(value))
    ticket = (Ticket.objects.filter(match, event=event).select_related("attendee", "event")
              .first())
    if ticket is None:
        raise ValidationError({"ticket": ["No such ticket in this event."]})
    return ticket


class Reprint(EventScopedMixin, APIView):
    """Print a ticket's badge again (a lost badge), with a reason; recorded in the audit log."""

    events_for = staticmethod(events_for_user)

    @extend_schema(operation_id="events_print_jobs_reprint", parameters=[EVENT_PARAM],
                   request=ReprintInput,
                   responses={201: PrintJobSerializer, 400: ErrorSerializer,
                              404: ErrorSerializer})
    def post(self, request: Request, event_pk: int) -> Response:
        data = ReprintInput.read(request.data)
        ticket = _ticket(self.event, data["ticket"])
        station = None
        if data.get("station") is not None:
            station = selectors.station_of_event(self.event, data["station"])
            if station is None:
                raise ValidationError({"station": ["Not a print station of this event."]})
        job = queue.reprint(ticket, data["reason"], station, user=request.user)
        return Response(PrintJobSerializer(job).data, status=201)


class ResolveInDoubt(EventScopedMixin, APIView):
    """Staff answer "did this badge come out?": ``printed`` true, or false to print it again."""

    events_for = staticmethod(events_for_user)

    @extend_schema(operation_id="events_print_job_resolve", parameters=[EVENT_PARAM],
                   request=ResolveInput,
                   responses={200: PrintJobSerializer, 400: ErrorSerializer,
                              404: ErrorSerializer, 409: ErrorSerializer})
    def post(self, request: Request, event_pk: int, job_id: int) -> Response:
        data = ResolveInput.read(request.data)
        job = selectors.jobs_for_event(self.event).filter(pk=job_id).first()
        if job is None:
            raise NotFound("No such print job in this event.")
        job = claims.resolve_in_doubt(job, data["printed"], user=request.user)
        return Response(PrintJobSerializer(job).data)


class PrintStationList(EventScopedMixin, APIView):
    """The event's print stations; POST pairs a new one (its token is in the answer, once)."""

    events_for = staticmethod(events_for_user)

    def _row(self, station) -> dict:
        return {**station_info(station), "token_hint": station.token_hint,
                "created_at": station.created_at, "last_seen_at": station.last_seen_at,
                "revoked_at": station.revoked_at}

    @extend_schema(operation_id="events_print_stations_list", parameters=[EVENT_PARAM],
                   responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer})
    def get(self, request: Request, event_pk: int) -> Response:
        found = selectors.stations_for_event(self.event, include_revoked=True)
        return Response({"results": [self._row(station) for station in found[:500]]})

    @extend_schema(operation_id="events_print_stations_create", parameters=[EVENT_PARAM],
                   request=StationInput,
                   responses={201: OpenApiTypes.OBJECT, 400: ErrorSerializer,
                              404: ErrorSerializer})
    def post(self, request: Request, event_pk: int) -> Response:
        data = StationInput.read(request.data)
        output = stations.read_output(data.get("output"))
        station, token = stations.create_station(self.event, data["name"], data["gates"],
                                                 output, created_by=request.user)
        return Response({**self._row(station), "token": token}, status=201)
