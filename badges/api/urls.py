"""Badge API under /api/v1/ (organisers: user session or API token)."""

from django.urls import path

from badges.api import views

urlpatterns = [
    path("events/<int:event_pk>/badges.pdf", views.EventBadgesPdf.as_view(),
         name="event-badges-pdf"),
]
