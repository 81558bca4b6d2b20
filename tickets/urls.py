"""Public and organiser pages of the tickets app (the API is in tickets.api.urls)."""

from django.urls import path
from django.views.generic import RedirectView

from tickets import views

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
    # Attendee self-service: registration, and the ticket behind the signed e-mail link.
    path("e/<slug:slug>/register/", views.register, name="event-register"),
    path("e/<slug:slug>/registered/", views.registered, name="event-registered"),
    path("e/<slug:slug>/resend/", views.resend_ticket, name="event-resend"),
    path("e/<slug:slug>/logo", views.event_logo, name="event-logo"),
    path("t/<str:token>/", views.ticket_page, name="ticket-page"),
    path("t/<str:token>/ticket.pdf", views.ticket_pdf, name="ticket-pdf"),
]
