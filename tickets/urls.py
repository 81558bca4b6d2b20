"""Public and organiser pages of the tickets app (the API is in tickets.api.urls)."""

from django.urls import path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
]
