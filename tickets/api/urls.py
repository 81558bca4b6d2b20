from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tickets.api import views

router = SimpleRouter()
router.register("organisers", views.OrganiserViewSet, basename="organiser")
router.register("events", views.EventViewSet, basename="event")

event_router = SimpleRouter()
event_router.register("ticket-types", views.TicketTypeViewSet, basename="tickettype")
event_router.register("attendees", views.AttendeeViewSet, basename="attendee")
event_router.register("tickets", views.TicketViewSet, basename="ticket")
event_router.register("audit", views.AuditViewSet, basename="audit")

urlpatterns = [
    path("", include(router.urls)),
    path("events/<int:event_pk>/", include(event_router.urls)),
    path("public/events/<slug:slug>/", views.PublicEventView.as_view(), name="public-event"),
    path(
        "public/events/<slug:slug>/register/",
        views.PublicRegistrationView.as_view(),
        name="public-register",
    ),
]
