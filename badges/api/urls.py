"""Badge API under /api/v1/: the organiser's (user session or API token) and the print
stations' (station token)."""

from django.urls import path

from badges.api import printjobs, station, views

urlpatterns = [
    path("events/<int:event_pk>/badges.pdf", views.EventBadgesPdf.as_view(),
         name="event-badges-pdf"),
    path("events/<int:event_pk>/print-jobs/", printjobs.PrintJobList.as_view(),
         name="event-print-jobs"),
    path("events/<int:event_pk>/print-jobs/reprint/", printjobs.Reprint.as_view(),
         name="event-print-jobs-reprint"),
    path("events/<int:event_pk>/print-jobs/<int:job_id>/resolve/",
         printjobs.ResolveInDoubt.as_view(), name="event-print-job-resolve"),
    path("events/<int:event_pk>/print-stations/", printjobs.PrintStationList.as_view(),
         name="event-print-stations"),
    path("badges/station/", station.StationWhoami.as_view(), name="badges-station"),
    path("badges/station/claim/", station.StationClaim.as_view(),
         name="badges-station-claim"),
    path("badges/station/jobs/<int:job_id>/badge.pdf", station.StationBadgePdf.as_view(),
         name="badges-station-job-pdf"),
    path("badges/station/jobs/<int:job_id>/handed/", station.StationHanded.as_view(),
         name="badges-station-job-handed"),
    path("badges/station/jobs/<int:job_id>/printed/", station.StationPrinted.as_view(),
         name="badges-station-job-printed"),
    path("badges/station/jobs/<int:job_id>/failed/", station.StationFailed.as_view(),
         name="badges-station-job-failed"),
    path("badges/station/in-doubt/", station.StationInDoubt.as_view(),
         name="badges-station-in-doubt"),
    path("badges/station/jobs/<int:job_id>/resolve/", station.StationResolve.as_view(),
         name="badges-station-job-resolve"),
    path("badges/station/stream/", station.StationStream.as_view(),
         name="badges-station-stream"),
]
