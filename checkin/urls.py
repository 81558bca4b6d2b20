"""The door page (/scan/) and its service worker, which must live under /scan/ to control it."""

from django.urls import path

from checkin import views

urlpatterns = [
    path("", views.door_page, name="door"),
    path("sw.js", views.service_worker, name="door-sw"),
    path("manifest.webmanifest", views.manifest, name="door-manifest"),
]
