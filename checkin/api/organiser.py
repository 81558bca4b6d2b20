"""Organiser API for check-in: lists, devices (pairing tokens), the scan log and conflicts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from checkin import devices, selectors, services
from checkin.api import serializers as s
from checkin.models import CheckinList, Device, ScanLog
from core.api.serializers import ErrorSerializer
from core.api.views import EVENT_PARAM, EventScopedMixin
from core.errors import ServiceError
from tickets.selectors import events_for_user


def _token_response(device: Device, token: str, http_status: int) -> Response:
    device.token = token
    device.pairing_url = services.pairing_url(token)
    device.pairing_qr_svg = services.pairing_qr_svg(token)
    return Response(s.DeviceTokenSerializer(device).data, status=http_status)


@contextmanager
def _rules_as_validation() -> Iterator[None]:
    """The services own the rules of lists; a broken one answers the 400 this API has always
    given for it (``{"error": "invalid", "detail": "Invalid input: <field>."}``)."""
    try:
        yield
    except ServiceError as exc:
        raise ValidationError({exc.field: exc.message}) from exc


class EventScoped(EventScopedMixin):
    events_for = staticmethod(events_for_user)


@extend_schema(parameters=[EVENT_PARAM])
class CheckinListViewSet(EventScoped, viewsets.ModelViewSet):
    """Check-in lists of an event: admitted ticket types, re-entry, exits, opening hours."""

    serializer_class = s.CheckinListSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CheckinList.objects.none()
        return selectors.lists_for_event(self.event)

    def perform_create(self, serializer) -> None:
        data = dict(serializer.validated_data)
        types = data.pop("ticket_types", None)
        with _rules_as_validation():
            serializer.instance = services.create_list(self.event, ticket_types=types, **data)

    def perform_update(self, serializer) -> None:
        data = dict(serializer.validated_data)
        types = data.pop("ticket_types", None)
        with _rules_as_validation():
            serializer.instance = services.update_list(serializer.instance, ticket_types=types,
                                                       **data)

    def perform_destroy(self, instance: CheckinList) -> None:
        with _rules_as_validation():
            services.delete_list(instance)

    @extend_schema(request=s.ManualCheckinSerializer, responses=s.ScanAnswerSerializer)
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request: Request, *args, **kwargs) -> Response:
        """Manual check-in by a staff member (logged as manual, with the user)."""
        checkin_list = self.get_object()
        serializer = s.ManualCheckinSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        answer = services.manual_check_in(
            devices.list_rule(checkin_list, self.event), serializer.validated_data["ticket"],
            user_id=request.user.pk, direction=serializer.validated_data["type"],
        )
        return Response(answer.as_json())


@extend_schema(parameters=[EVENT_PARAM])
class DeviceViewSet(
    EventScoped,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Scanner devices. The token is in the answer to create and rotate-token only."""

    serializer_class = s.DeviceSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Device.objects.none()
        return selectors.devices_for_event(self.event)

    @extend_schema(responses={201: s.DeviceTokenSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        device, token = services.create_device(
            self.event, data["name"], data.get("gate", ""), lists=data.get("lists"),
            created_by=request.user,
        )
        return _token_response(device, token, status.HTTP_201_CREATED)

    def perform_update(self, serializer) -> None:
        data = dict(serializer.validated_data)
        lists = data.pop("lists", None)
        serializer.instance = services.update_device(serializer.instance, lists=lists, **data)

    @extend_schema(request=None, responses=s.DeviceSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, *args, **kwargs) -> Response:
        """The device's token stops working (within a few seconds in every server process)."""
        device = services.revoke_device(self.get_object())
        return Response(s.DeviceSerializer(device).data)

    @extend_schema(request=None, responses=s.DeviceTokenSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-token")
    def rotate_token(self, request: Request, *args, **kwargs) -> Response:
        """A new token and pairing QR (e.g. a lost phone); the old token stops working."""
        device, token = services.rotate_device_token(self.get_object())
        return _token_response(device, token, status.HTTP_200_OK)


_SCAN_FILTERS = [
    OpenApiParameter("conflict", bool, description="only offline conflicts"),
    OpenApiParameter("untrusted_time", bool,
                     description="only scans whose device's clock was not believed"),
    OpenApiParameter("result", str, enum=["ok", "rejected"]),
    OpenApiParameter("reason", str),
    OpenApiParameter("list", int),
    OpenApiParameter("device", int),
]


@extend_schema(parameters=[EVENT_PARAM])
@extend_schema_view(list=extend_schema(
    parameters=_SCAN_FILTERS,
    responses={200: s.ScanLogSerializer(many=True), 400: ErrorSerializer},
))
class ScanLogViewSet(EventScoped, viewsets.ReadOnlyModelViewSet):
    """The event's scan log, newest first; ``?conflict=true`` lists offline conflicts."""

    serializer_class = s.ScanLogSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ScanLog.objects.none()
        scans = selectors.scans_for_event(self.event)
        if self.action != "list":  # the filters belong to the list, not to one scan
            return scans
        params = self.request.query_params
        if params.get("conflict", "").lower() in {"1", "true", "yes"}:
            scans = scans.filter(conflict=True)
        if params.get("untrusted_time", "").lower() in {"1", "true", "yes"}:
            scans = scans.filter(untrusted_scanned_at__isnull=False)
        if params.get("result"):
            scans = scans.filter(result=params["result"])
        if params.get("reason"):
            scans = scans.filter(reason=params["reason"])
        for name in ("list", "device"):
            if params.get(name):
                try:
                    value = int(params[name])
                except ValueError:
                    value = 0
                if not 0 < value < 2**63:
                    raise ValidationError({name: "A positive integer is required."})
                scans = scans.filter(**{f"{name}_id": value})
        return scans

