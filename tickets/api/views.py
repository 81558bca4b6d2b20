"""Thin API views: authenticate, scope to the user's events, call services, shape output."""

from __future__ import annotations

import json
from types import SimpleNamespace

from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, parsers, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import selectors as audit_selectors
from core import languages
from core.api.views import EVENT_PARAM, EventScopedMixin
from core.errors import VarcoError
from core.fastpath import Answer
from core.rate_limits import ImportThrottle, OrganiserThrottle, RegistrationThrottle
from core.rate_limits import refused as rate_limit_refused
from core.request_limits import body_limit
from tickets import attendee_csv, selectors, services
from tickets.api import serializers as s
from tickets.delivery import queue
from tickets.models import Event, Ticket, TicketType

# Room for the multipart framing around an uploaded file of the largest accepted size.
MULTIPART_SLACK = 64 * 1024


def max_csv_bytes() -> int:
    return settings.VARCO_MAX_IMPORT_BYTES


class CSVParser(parsers.BaseParser):
    """Accept a raw ``text/csv`` body (``curl --data-binary @list.csv``)."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return stream.read(max_csv_bytes() + 1)


class OrganiserViewSet(viewsets.ReadOnlyModelViewSet):
    """The organiser teams the caller belongs to."""

    serializer_class = s.OrganiserSerializer

    def get_queryset(self):
        return selectors.organisers_for_user(self.request.user)


class EventViewSet(viewsets.ModelViewSet):
    """Events of the caller's organiser teams."""

    serializer_class = s.EventSerializer

    def get_queryset(self) -> QuerySet[Event]:
        return selectors.events_for_user(self.request.user).order_by("start", "id")

    def perform_create(self, serializer) -> None:
        data = dict(serializer.validated_data)
        organiser = data.pop("organiser")
        data.setdefault("languages", list(languages.CODES))
        serializer.instance = services.create_event(organiser, **data)

    def perform_update(self, serializer) -> None:
        serializer.instance = services.update_event(
            serializer.instance, dict(serializer.validated_data)
        )

    def perform_destroy(self, instance: Event) -> None:
        services.delete_event(instance)


class EventScoped(EventScopedMixin):
    events_for = staticmethod(selectors.events_for_user)




@extend_schema(parameters=[EVENT_PARAM])
class TicketTypeViewSet(EventScoped, viewsets.ModelViewSet):
    serializer_class = s.TicketTypeSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return s.TicketType.objects.none()
        return selectors.ticket_types_for_event(self.event)

    def perform_create(self, serializer) -> None:
        serializer.instance = services.save_ticket_type(
            self.event, dict(serializer.validated_data)
        )

    def perform_update(self, serializer) -> None:
        serializer.instance = services.save_ticket_type(
            self.event, dict(serializer.validated_data), serializer.instance
        )

    def perform_destroy(self, instance) -> None:
        services.delete_ticket_type(instance)


@extend_schema(parameters=[EVENT_PARAM])
class AttendeeViewSet(
    EventScoped,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Attendees of one event. Creating one issues their ticket (and e-mails it); deleting
    one (e.g. on a data-erasure request) revokes their ticket and frees the place."""

    serializer_class = s.AttendeeSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return s.Attendee.objects.none()
        search = self.request.query_params.get("search", "")[:200]
        if "\x00" in search:  # PostgreSQL refuses NUL in text: a 400, not a 500
            raise ValidationError({"search": ["Must not contain NUL characters."]})
        return selectors.attendees_for_event(self.event, search)

    def perform_update(self, serializer) -> None:
        serializer.instance = services.update_attendee(
            serializer.instance, dict(serializer.validated_data)
        )

    def perform_destroy(self, instance) -> None:
        services.delete_attendee(instance)

    @extend_schema(
        parameters=[OpenApiParameter("search", str, description="name, e-mail, organisation "
                                     "or ticket reference")],
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=s.RegistrationSerializer, responses={201: s.RegistrationResultSerializer}
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        return _register(self.event, request.data, public=False)

    @extend_schema(
        request={"text/csv": OpenApiTypes.BINARY, "multipart/form-data": s.ImportUploadSerializer},
        parameters=[
            OpenApiParameter("partial", bool, description="import the good rows, report the bad"),
            OpenApiParameter("skip_existing", bool, description="skip already registered e-mails"),
        ],
        responses={201: s.ImportResultSerializer, 400: s.ImportRefusedSerializer},
    )
    @body_limit(lambda: max_csv_bytes() + MULTIPART_SLACK)
    @action(
        detail=False, methods=["post"], url_path="import",
        parser_classes=[CSVParser, parsers.MultiPartParser],
        throttle_classes=[OrganiserThrottle, ImportThrottle],
    )
    def import_csv(self, request: Request, *args, **kwargs) -> Response:
        """Import attendees from CSV: all-or-nothing unless ``?partial=true``."""
        event = self.event  # 404 for someone else's event before even reading the body
        data = request.data
        if not isinstance(data, bytes):  # multipart, or a text/csv request without a body
            upload = request.FILES.get("file")
            if upload is not None:
                data = upload.read(max_csv_bytes() + 1)
            elif request.content_type.startswith(CSVParser.media_type):
                data = b""
            else:
                raise ValidationError(
                    {"file": _("Send the CSV as a text/csv body or as a multipart 'file' "
                               "upload.")}
                )
        if not data:
            raise ValidationError({"file": _("The file is empty.")})
        if len(data) > max_csv_bytes():
            raise ValidationError({"file": _("The file is larger than %(limit)d bytes.")
                                   % {"limit": max_csv_bytes()}})
        flags = request.query_params
        try:
            result = attendee_csv.import_attendees(
                event, data,
                partial=_flag(flags.get("partial")),
                skip_existing=_flag(flags.get("skip_existing")),
            )
        except attendee_csv.CSVFormatError as exc:
            raise ValidationError({"file": str(exc)}) from None
        body = result.as_dict()
        if not result.committed:
            # The API's error shape on top of the per-line report: ``fields`` names each column
            # at fault with its lines, ``errors`` keeps them in file order.
            fields: dict[str, list[str]] = {}
            for error in result.errors:
                fields.setdefault(error.field, []).append(
                    _("line %(line)d: %(reason)s") % {"line": error.line, "reason": error.message})
            body["error"] = "invalid"
            body["detail"] = ngettext("%(count)d bad row; nothing was imported.",
                                      "%(count)d bad rows; nothing was imported.",
                                      len(result.errors)) % {"count": len(result.errors)}
            body["fields"] = fields
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"], url_path="export")
    def export_csv(self, request: Request, *args, **kwargs) -> StreamingHttpResponse:
        response = StreamingHttpResponse(
            attendee_csv.export_attendees(self.event), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{self.event.slug}-attendees.csv"'
        )
        return response


def _flag(value: str | None) -> bool:
    return (value or "").lower() in {"1", "true", "yes"}


def _registration(v: dict) -> services.Registration:
    return services.Registration(
        name=v["name"], email=v["email"], organisation=v.get("organisation", ""),
        language=v.get("language", ""), ticket_type_id=v.get("ticket_type"),
    )


def _public_answer(ticket: Ticket) -> dict:
    """The public answer does not echo other attendees' data, only the caller's own. Built
    directly, not by the organiser's serializers: those read the ticket's deliveries (a query
    per registration) for fields this answer leaves out."""
    return {"ticket": {"reference": ticket.reference, "status": ticket.status},
            "attendee": {"name": ticket.attendee.name, "email": ticket.attendee.email}}


def _register(event: Event, data, *, public: bool,
              default_ticket_type: TicketType | None = None) -> Response:
    ticket = services.register(event, _registration(s.validate_registration(data)),
                               public=public, default_ticket_type=default_ticket_type)
    if public:
        body = _public_answer(ticket)
    else:
        body = {
            "attendee": s.AttendeeSerializer(ticket.attendee).data,
            "ticket": s.TicketSerializer(ticket).data,
        }
    return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[EVENT_PARAM, OpenApiParameter(
    "attendee", OpenApiTypes.INT, description="only the entries about this attendee")])
class AuditViewSet(EventScoped, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The event's audit log, newest first: every organiser action that changed its data,
    kept when what it names is deleted."""

    serializer_class = s.AuditEntrySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return audit_selectors.entries([])
        query = s.AuditQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return audit_selectors.entries(
            [self.event.organiser_id], event_id=self.event.pk,
            attendee_id=query.validated_data.get("attendee"))


@extend_schema(parameters=[EVENT_PARAM])
class TicketViewSet(EventScoped, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.TicketSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Ticket.objects.none()
        return selectors.tickets_for_event(self.event)

    @extend_schema(request=None, responses=s.TicketSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, *args, **kwargs) -> Response:
        """Revoke: its QR code is refused from now on, and its place is freed."""
        ticket = services.revoke_ticket(self.get_object())
        return Response(s.TicketSerializer(ticket).data)

    @extend_schema(request=None, responses=s.TicketSerializer)
    @action(detail=True, methods=["post"])
    def reissue(self, request: Request, *args, **kwargs) -> Response:
        """New QR code for the same ticket (the old one is refused), sent by e-mail."""
        ticket = services.reissue_ticket(self.get_object())
        return Response(s.TicketSerializer(ticket).data)

    @extend_schema(request=None, responses={202: s.TicketSerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, *args, **kwargs) -> Response:
        """E-mail the ticket again (same QR code). A send already under way is not doubled."""
        ticket = self.get_object()
        queue.resend(ticket)
        ticket = selectors.tickets_for_event(self.event).get(pk=ticket.pk)
        return Response(s.TicketSerializer(ticket).data, status=status.HTTP_202_ACCEPTED)


class PublicEventView(APIView):
    """What the public registration page shows about an event."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(responses=s.PublicEventSerializer)
    def get(self, request: Request, slug: str) -> Response:
        event = get_object_or_404(Event, slug=slug)
        return Response(s.PublicEventSerializer(event).data)


class PublicRegistrationView(APIView):
    """Self-service registration; the ticket arrives by e-mail."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes = [RegistrationThrottle]

    @extend_schema(request=s.RegistrationSerializer,
                   responses={201: s.PublicRegistrationResultSerializer})
    def post(self, request: Request, slug: str) -> Response:
        default = selectors.default_public_ticket_type(slug)
        event = default.event if default is not None else get_object_or_404(Event, slug=slug)
        return _register(event, request.data, public=True, default_ticket_type=default)


def _strict_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # as DRF's parser: NaN and Infinity are refused


def public_registration(slug: str, body: bytes, meta: dict) -> Answer:
    """``PublicRegistrationView.post`` for a JSON body, without DRF: (status, body, headers),
    or None where the view's answer is not this function's to give (a body DRF's parser or the
    serializer refuses, with their messages in the request's language; an unknown event or
    one without a public ticket type; a client over its rate limit): the caller then hands the
    request to Django. Used by ``tickets.fastpath``; the same steps as the view: the same
    validation (``validate_registration``), the same look-up, the same rate limit (charged
    once: only here, or only by the view), the same service, the same answers."""
    try:
        data = json.loads(body.decode(), parse_constant=_strict_constant)
        validated = s.validate_registration(data)
    except (ValueError, ValidationError):
        return None
    default = selectors.default_public_ticket_type(slug)
    if default is None or rate_limit_refused(SimpleNamespace(META=meta), RegistrationThrottle):
        return None
    try:
        ticket = services.register(default.event, _registration(validated), public=True,
                                   default_ticket_type=default)
    except VarcoError as exc:
        return exc.http_status, exc.body(), {}
    return status.HTTP_201_CREATED, _public_answer(ticket), {}
