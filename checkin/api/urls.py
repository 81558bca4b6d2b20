"""Check-in API under /api/v1/: the door devices' endpoints and the organiser's resources."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from checkin.api import door, organiser

event_router = SimpleRouter()
event_router.register("checkin-lists", organiser.CheckinListViewSet, basename="checkinlist")
event_router.register("devices", organiser.DeviceViewSet, basename="device")
event_router.register("scans", organiser.ScanLogViewSet, basename="scanlog")

urlpatterns = [
    # Door devices (Authorization: Token <device token>).
    path("checkin/scan/", door.scan, name="checkin-scan"),
    path("checkin/annul/", door.annul, name="checkin-annul"),
    path("checkin/manual/", door.manual, name="checkin-manual"),
    path("checkin/sync/", door.sync, name="checkin-sync"),
    path("checkin/snapshot/", door.snapshot, name="checkin-snapshot"),
    path("checkin/changes/", door.changes, name="checkin-changes"),
    path("checkin/search/", door.search, name="checkin-search"),
    path("checkin/device/", door.whoami, name="checkin-device"),
    path("checkin/ping/", door.ping, name="checkin-ping"),
    # Organisers (user session or API token).
    path("events/<int:event_pk>/", include(event_router.urls)),
]
