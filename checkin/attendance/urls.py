"""Attendance routes: the organiser API and exports under /api/v1/, the dashboard pages.

Included at the site root by backend/urls.py (one line), so both kinds of path live here.
"""

from django.urls import path

from checkin.attendance import views

urlpatterns = [
    path(
        "api/v1/events/<int:event_id>/attendance/",
        views.AttendanceView.as_view(),
        name="event-attendance",
    ),
    path(
        "api/v1/events/<int:event_id>/attendance/checkins.csv",
        views.CheckinsCSVView.as_view(),
        name="attendance-checkins-csv",
    ),
    path(
        "api/v1/events/<int:event_id>/attendance/no-shows.csv",
        views.NoShowsCSVView.as_view(),
        name="attendance-no-shows-csv",
    ),
    path(
        "api/v1/events/<int:event_id>/attendance/arrivals.svg",
        views.ArrivalsSVGView.as_view(),
        name="attendance-arrivals-svg",
    ),
    path("events/<int:event_id>/dashboard/", views.dashboard, name="attendance-dashboard"),
    path("events/<int:event_id>/dashboard/stream/", views.stream, name="attendance-stream"),
    path("events/<int:event_id>/dashboard/live/", views.live, name="attendance-live"),
]
