"""Top-level URLs. Each app owns its API under /api/v1/ and its pages."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from backend.health import healthz
from backend.metrics import metrics

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # Browsers ask for /favicon.ico by themselves (the admin's pages, which link no icon).
    path(
        "favicon.ico",
        RedirectView.as_view(url=f"{settings.STATIC_URL}core/favicon.ico", permanent=True),
        name="favicon",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("checkin.api.urls")),
    path("api/v1/", include("tickets.api.urls")),
    path("api/v1/", include("badges.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its set-up script from a URL: no inline script under the CSP.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="core/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("scan/", include("checkin.urls")),
    path("print/", include("badges.urls")),
    path("", include("checkin.attendance.urls")),
    path("", include("tickets.urls")),
]

# JSON errors for malformed requests, unknown URLs and crashes under /api/ (HTML elsewhere).
handler400 = "core.api.exceptions.bad_request"
handler404 = "core.api.exceptions.not_found"
handler500 = "core.api.exceptions.server_error"
