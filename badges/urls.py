"""The browser print station page (``/print/``)."""

from django.urls import path

from badges import views

urlpatterns = [
    path("", views.station_page, name="print-station"),
]
