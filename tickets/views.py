"""Attendee self-service pages: public registration and the signed ticket page (no login).

Thin views: the registration goes through ``services.register`` (the same rule as the API)
under the same rate limit as the API (``core.rate_limits``: one budget per client address
for both ways in), ticket links are checked by ``tickets.links``, the PDF comes from
``tickets.documents.pdf``.
"""

from __future__ import annotations

import hashlib

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from core import languages, rate_limits
from core.errors import ServiceError
from tickets import links, services
from tickets.dates import event_when_html
from tickets.delivery import queue
from tickets.documents import logo as logos
from tickets.documents import pdf, qr_svg
from tickets.forms import RegistrationForm, ResendForm
from tickets.models import Event

SESSION_REGISTERED = "varco.registered"

# ServiceError codes the attendee may see, in their language (the service speaks English).
_ERRORS = {
    "sold_out": lambda: _("Sorry, this event is full: no places are left."),
    "closed": lambda: _("Registration for this event is closed."),
    "duplicate": lambda: _("This e-mail address is already registered for this event. "
                           "Look for your ticket in your inbox."),
}


def _page_language(request: HttpRequest, event: Event) -> str:
    """?lang= if the event offers it, else the browser's choice if offered, else the first."""
    offered = event.languages or list(languages.CODES)
    for candidate in (request.GET.get("lang"), request.POST.get("lang"),
                      translation.get_language()):
        if candidate and candidate[:2] in offered:
            return candidate[:2]
    return offered[0]


def _event_context(event: Event, language: str) -> dict:
    return {
        "event": event,
        "when": event_when_html(event, language),
        "language": language,
        "languages": [(code, name) for code, name in languages.LANGUAGES
                      if code in (event.languages or languages.CODES)],
    }


def _sold_out(event: Event, form: RegistrationForm) -> bool:
    if event.capacity is not None and event.issued_count >= event.capacity:
        return True
    return bool(form.types) and all(
        t.capacity is not None and t.issued_count >= t.capacity for t in form.types
    )


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_object_or_404(Event, slug=slug)
    language = _page_language(request, event)
    translation.activate(language)
    request.LANGUAGE_CODE = language
    status = 200
    limited = None
    resend_email = None
    if request.method == "POST":
        form = RegistrationForm(request.POST, event=event, language=language)
        # The public API's limit and budget: the form is another way in to the same service.
        wait = rate_limits.refused(request, rate_limits.RegistrationThrottle)
        if wait is not None:
            limited = _too_many(wait)
        elif form.is_valid():
            data = form.cleaned_data
            try:
                ticket = services.register(
                    event,
                    services.Registration(
                        name=data["name"], email=data["email"],
                        organisation=data.get("organisation", ""), language=language,
                        ticket_type_id=data.get("ticket_type"),
                    ),
                    public=True,
                )
            except ServiceError as exc:
                translated = _ERRORS.get(exc.code)
                message = translated() if translated else exc.message
                if exc.code == "duplicate":  # read before add_error takes it out of the data
                    resend_email = data["email"]
                target = exc.field if exc.field in form.fields and exc.code != "sold_out" else None
                form.add_error(target, message)
            else:
                request.session[SESSION_REGISTERED] = {
                    "event": event.pk, "email": ticket.attendee.email, "name": ticket.attendee.name,
                }
                url = reverse("event-registered", args=[event.slug])
                return HttpResponseRedirect(f"{url}?lang={language}")
        status = 429 if limited else 400
    else:
        form = RegistrationForm(event=event, language=language)
    context = _event_context(event, language) | {
        "form": form,
        "closed": not event.registration_open,
        "sold_out": _sold_out(event, form),
        "limited": limited,
        # Already registered: offer "send my ticket again" for the address just typed.
        "resend_email": resend_email,
    }
    response = render(request, "tickets/register.html", context, status=status)
    if wait_seconds := (limited or {}).get("seconds"):
        response["Retry-After"] = str(wait_seconds)
    return response


def _too_many(seconds: int) -> dict:
    """What the attendee reads when their address is over the registration limit."""
    minutes = max(1, -(-seconds // 60))
    message = ngettext(
        "Too many registrations have come from your connection. Please try again in %(minutes)d"
        " minute.",
        "Too many registrations have come from your connection. Please try again in %(minutes)d"
        " minutes.",
        minutes,
    ) % {"minutes": minutes}
    return {"seconds": seconds, "message": message}


@never_cache
@require_GET
def registered(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_object_or_404(Event, slug=slug)
    language = _page_language(request, event)
    translation.activate(language)
    done = request.session.get(SESSION_REGISTERED)
    if not done or done.get("event") != event.pk:
        return HttpResponseRedirect(reverse("event-register", args=[event.slug]))
    return render(request, "tickets/registered.html",
                  _event_context(event, language) | {"registration": done})


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def resend_ticket(request: HttpRequest, slug: str) -> HttpResponse:
    """"Send my ticket again": the same answer whether or not the address is registered (and
    the same limits charged), so the page tells a prober nothing; the ticket goes only to the
    address stored at registration (``queue.resend_on_request``)."""
    event = get_object_or_404(Event, slug=slug)
    language = _page_language(request, event)
    translation.activate(language)
    request.LANGUAGE_CODE = language
    status, limited, sent_to = 200, None, None
    form = ResendForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                email, key = services.clean_email(form.cleaned_data["email"])
            except ServiceError:
                form.add_error("email", _("Enter a valid e-mail address."))
            else:
                wait = rate_limits.refused(
                    request, rate_limits.TicketResendThrottle,
                    rate_limits.TicketResendAddressThrottle(_resend_ident(event, key)),
                )
                if wait is not None:
                    limited, status = _too_many_resends(wait), 429
                else:
                    queue.resend_on_request(event, key)
                    sent_to, status = email, 200
    context = _event_context(event, language) | {
        "form": form, "limited": limited, "sent_to": sent_to,
    }
    response = render(request, "tickets/resend.html", context, status=status)
    if limited:
        response["Retry-After"] = str(limited["seconds"])
    return response


def _resend_ident(event: Event, key: str) -> str:
    return hashlib.sha256(f"{event.pk}:{key}".encode()).hexdigest()[:32]


def _too_many_resends(seconds: int) -> dict:
    minutes = max(1, -(-seconds // 60))
    message = ngettext(
        "Too many requests to send a ticket again. Please try again in %(minutes)d minute.",
        "Too many requests to send a ticket again. Please try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
    return {"seconds": seconds, "message": message}


@require_GET
def event_logo(request: HttpRequest, slug: str) -> HttpResponse:
    """The event's logo (public: it is printed on every ticket), as stored (PNG, or JPEG for
    a photograph). With the
    current version in ``?v=`` (``links.logo_url``) it may be cached for a year."""
    event = get_object_or_404(Event.objects.only("pk", "slug", "logo"), slug=slug)
    version = logos.logo_version(event)
    if version is None:
        return HttpResponse(status=404)
    data = logos.logo_bytes(event)
    response = HttpResponse(data, content_type=logos.logo_content_type(data))
    response["ETag"] = f'"{version}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = ("public, max-age=31536000, immutable"
                                 if request.GET.get("v") == version else "public, max-age=300")
    return response


def _ticket_or_error(request: HttpRequest, token: str):
    try:
        return links.ticket_for_token(token), None
    except links.LinkInvalid:
        return None, render(request, "tickets/ticket_gone.html", {"invalid": True}, status=404)
    except links.LinkExpired:
        return None, render(request, "tickets/ticket_gone.html", {"invalid": False}, status=410)


def _private(response: HttpResponse) -> HttpResponse:
    # The URL is the secret: keep it out of caches, referrers and search engines.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_GET
def ticket_page(request: HttpRequest, token: str) -> HttpResponse:
    ticket, error = _ticket_or_error(request, token)
    if error is not None:
        return _private(error)
    language = request.GET.get("lang") or ticket.attendee.language
    language = languages.or_default(language)
    translation.activate(language)
    code = services.ticket_code(ticket)
    context = _event_context(ticket.event, language) | {
        "ticket": ticket,
        "attendee": ticket.attendee,
        "ticket_type": ticket.ticket_type.localized_name(language),
        "qr_svg": qr_svg.qr_svg(code),
        "pdf_url": reverse("ticket-pdf", args=[token]),
        "page_url": reverse("ticket-page", args=[token]),
        "logo_url": links.logo_url(ticket.event),
        "practical": _practical(ticket.event, language),
    }
    return _private(render(request, "tickets/ticket.html", context))


def _practical(event: Event, language: str) -> list[tuple[str, str]]:
    """(heading, text) of the practical information in the page's language, as the PDF
    shows it (the same fallback to another language when this one has none)."""
    columns = pdf.practical_columns(event.practical_info or {}, (language,),
                                    event.default_language)
    if not columns:
        return []
    info_language, sections = columns[0]
    with translation.override(info_language):
        headings = pdf.practical_headings()
    return [(headings[name], sections[name]) for name in services.PRACTICAL_SECTIONS
            if sections.get(name)]


@require_GET
def ticket_pdf(request: HttpRequest, token: str) -> HttpResponse:
    ticket, error = _ticket_or_error(request, token)
    if error is not None:
        return _private(error)
    document = pdf.render_ticket_pdf(ticket, services.ticket_code(ticket))
    response = HttpResponse(document, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="ticket-{ticket.reference}.pdf"'
    return _private(response)
