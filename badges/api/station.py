"""The print station API (``Authorization: Token vp_…``): whoami, claim (long poll), the
badge's PDF, handed / printed / failed, the station's jobs in doubt and their resolution, and
the browser station's event stream. Thin views: the rules are in ``badges.jobs``.

Only a station token is accepted here (an organiser's or a door device's token is a 401), and
a station sees only its own jobs (another station's job id is a 404).
"""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from badges.api.serializers import (
    ClaimInput,
    FailedInput,
    HandedInput,
    PrintedInput,
    ResolveInput,
    claimed_job,
    station_info,
)
from badges.api.views import JsonErrors
from badges.jobs import claims, selectors, stations, stream
from badges.models import PrintStation
from core.api.serializers import ErrorSerializer
from core.errors import error_body


class StationPrincipal:
    """``request.user`` of a station's call: authenticated, keyed per station for the API's
    rate limit (``core.rate_limits.OrganiserThrottle`` counts per ``user.pk``)."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, station: PrintStation) -> None:
        self.pk = self.id = f"print-station-{station.pk}"
        self.station = station

    def __str__(self) -> str:
        return self.station.name


class StationTokenAuthentication(BaseAuthentication):
    """``Authorization: Token vp_…``; any other token (organiser, door device) is a 401."""

    keyword = "Token"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        station = stations.authenticate(header)
        if station is None:
            raise exceptions.AuthenticationFailed("A valid print station token is required: "
                                                  "'Authorization: Token vp_…'.")
        return StationPrincipal(station), station

    def authenticate_header(self, request) -> str:
        return self.keyword


class StationTokenScheme(OpenApiAuthenticationExtension):
    """The station token in the API schema (drf-spectacular finds an extension by its
    subclass; without it the schema check warns and the schema lacks the scheme)."""

    target_class = StationTokenAuthentication
    name = "stationToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token vp_…`: a print station's token, shown once when the "
                               "station is created."}


class IsStation(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, PrintStation)


class _StationView(APIView):
    authentication_classes = [StationTokenAuthentication]
    permission_classes = [IsStation]

    def initial(self, request, *args, **kwargs) -> None:
        # A method the endpoint does not have is a 405 whatever the token (DRF would check the
        # token first and answer 401): the answer names what is wrong with the request.
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    @property
    def station(self) -> PrintStation:
        return self.request.auth


_JOB = {200: OpenApiTypes.OBJECT, 401: ErrorSerializer, 404: ErrorSerializer,
        409: ErrorSerializer, 400: ErrorSerializer}


class StationWhoami(_StationView):
    """This station: its event, gates and output (the agent reads how to print)."""

    @extend_schema(operation_id="badges_station", responses={200: OpenApiTypes.OBJECT,
                                                             401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        return Response(station_info(self.station))


class StationClaim(_StationView):
    """Claim the next badge to print (``wait``: seconds to long-poll, 0 to 25). 204: none."""

    @extend_schema(operation_id="badges_station_claim", request=ClaimInput,
                   responses={200: OpenApiTypes.OBJECT, 204: None, 400: ErrorSerializer,
                              401: ErrorSerializer})
    def post(self, request: Request) -> Response:
        data = ClaimInput.read(request.data)
        found = claims.claim_waiting(self.station, data["wait"])
        if found is None:
            return Response(status=204)
        return Response({"job": claimed_job(found)})


class StationBadgePdf(_StationView):
    """The badge of a job this station holds (``?claim=``)."""

    content_negotiation_class = JsonErrors

    @extend_schema(operation_id="badges_station_job_pdf",
                   parameters=[OpenApiParameter("claim", str, required=True)],
                   responses={(200, "application/pdf"): OpenApiTypes.BINARY,
                              400: ErrorSerializer, 401: ErrorSerializer,
                              404: ErrorSerializer, 409: ErrorSerializer})
    def get(self, request: Request, job_id: int) -> HttpResponse:
        claim = HandedInput.read({"claim": request.query_params.get("claim", "")})["claim"]
        job, pdf = claims.badge_pdf(self.station, job_id, claim)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="badge-{job.pk}.pdf"'
        response["Cache-Control"] = "no-store"
        return response


class StationHanded(_StationView):
    @extend_schema(operation_id="badges_station_job_handed", request=HandedInput,
                   responses=_JOB)
    def post(self, request: Request, job_id: int) -> Response:
        data = HandedInput.read(request.data)
        job = claims.handed(self.station, job_id, data["claim"])
        return Response({"id": job.pk, "state": job.state})


class StationPrinted(_StationView):
    @extend_schema(operation_id="badges_station_job_printed", request=PrintedInput,
                   responses=_JOB)
    def post(self, request: Request, job_id: int) -> Response:
        data = PrintedInput.read(request.data)
        job = claims.printed(self.station, job_id, data["claim"], data.get("printer_job"))
        return Response({"id": job.pk, "state": job.state})


class StationFailed(_StationView):
    @extend_schema(operation_id="badges_station_job_failed", request=FailedInput,
                   responses=_JOB)
    def post(self, request: Request, job_id: int) -> Response:
        data = FailedInput.read(request.data)
        job = claims.failed(self.station, job_id, data["claim"], data["error"], data["retry"])
        return Response({"id": job.pk, "state": job.state, "attempt": job.attempt})


class StationInDoubt(_StationView):
    """This station's badges in doubt, and its handed ones (after a restart, in doubt too)."""

    @extend_schema(operation_id="badges_station_in_doubt",
                   responses={200: inline_serializer("InDoubtJobs", {
                       "jobs": serializers.ListField(child=serializers.DictField())}),
                       401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        jobs = selectors.unfinished_for_station(self.station)
        return Response({"jobs": [
            {"id": job.pk, "attempt": job.attempt, "state": job.state,
             "handed_at": job.handed_at, "printer_job": job.printer_job or None}
            for job in jobs[:100]]})


class StationResolve(_StationView):
    @extend_schema(operation_id="badges_station_job_resolve", request=ResolveInput,
                   responses=_JOB)
    def post(self, request: Request, job_id: int) -> Response:
        data = ResolveInput.read(request.data)
        job = claims.resolve_by_station(self.station, job_id, data["printed"])
        return Response({"id": job.pk, "state": job.state})


class StationStream(_StationView):
    """Server-sent events: ``event: job`` when a badge is queued for this station."""

    content_negotiation_class = JsonErrors

    @extend_schema(operation_id="badges_station_stream",
                   responses={(200, "text/event-stream"): OpenApiTypes.STR,
                              401: ErrorSerializer, 503: ErrorSerializer})
    def get(self, request: Request) -> HttpResponse:
        body = stream.open_stream(self.station)
        if body is None:
            response = Response(error_body(
                "busy", "This server is serving its share of print station streams; claim "
                        "with 'wait' instead."), status=503)
            response["Retry-After"] = "10"
            return response
        response = StreamingHttpResponse(body, content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
