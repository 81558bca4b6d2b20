"""Top-level URLs. Each app owns its API under /api/v1/ and its pages."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backend.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("checkin.api.urls")),
    path("api/v1/", include("tickets.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("scan/", include("checkin.urls")),
    path("", include("checkin.attendance_urls")),
    path("", include("tickets.urls")),
]

# JSON errors for unknown URLs and crashes under /api/ (HTML pages elsewhere).
handler404 = "tickets.api.errors.not_found"
handler500 = "tickets.api.errors.server_error"
