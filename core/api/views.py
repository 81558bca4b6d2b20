"""Pieces shared by the apps' API views."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

# The ``{event_pk}`` of nested routes (/api/v1/events/{event_pk}/...), for the schema.
EVENT_PARAM = OpenApiParameter("event_pk", OpenApiTypes.INT, OpenApiParameter.PATH)


class EventScopedMixin:
    """Resolve ``event_pk`` among the caller's events (404 for anyone else's).

    ``events_for(user)`` is the app's selector of the events a user may see (set by the view,
    e.g. ``tickets.selectors.events_for_user``): core knows no models of the apps above it.
    """

    events_for: Callable[..., QuerySet]
    _event: Model | None = None

    @property
    def event(self):
        if self._event is None:
            self._event = get_object_or_404(
                type(self).events_for(self.request.user), pk=self.kwargs["event_pk"]
            )
        return self._event

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if "event_pk" in self.kwargs and not getattr(self, "swagger_fake_view", False):
            context["event"] = self.event
        return context
