"""The browser print station page (``/print/``): static HTML, the bundle built from
``badges/frontend`` (committed under ``static/badges/``) and the texts of Django's catalogue.

The page holds no secret: a station's token arrives in the pairing link's fragment
(``/print/#pair=<token>``, never sent to the server) and stays in the browser; every call
the page makes is to the station API with that token (docs/badges.md).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

STATIC_DIR = Path(__file__).resolve().parent / "static" / "badges"


@cache
def _versioned(name: str) -> str:
    """A static file's URL with its content hash, so a kiosk left open for days notices a
    new build (the static files keep stable names)."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"{static(f'badges/{name}')}?v={digest}"


def _labels() -> dict[str, str]:
    """The texts the script writes (the rest are in the template)."""
    return {
        "connection_online": _("Connected: badges print as people arrive."),
        "connection_offline": _("Offline: reconnecting…"),
        "idle": _("Waiting for the next badge."),
        "printing": _("Printing the badge of %(name)s…"),
        "none": _("None yet."),
        "count": _("Printed: %(printed)s · failed: %(failed)s"),
        "reprint": _("reprint"),
        "question": _("Did the badge of %(name)s come out?"),
        "yes_printed": _("Yes, it printed"),
        "no_print_again": _("No, print it again"),
        "pdf_refused": _("The server did not give the badge"),
        "not_handed": _("The server did not confirm the job: not printed, it will come back."),
        "revoked": _("This print station was revoked or is unknown: pair it again."),
        "wrong_token": _("This is not a print station's token or link."),
        "no_gate": _("no gate"),
        "output_browser": _("this browser's printer"),
        "output_cups": _("a CUPS queue (the print agent prints, not this page)"),
        "output_brother_ql": _("a Brother QL label printer (the print agent prints, not this "
                               "page)"),
        "unpair_confirm": _("Unpair this print station? You will need its pairing link again."),
    }


@require_safe
def station_page(request: HttpRequest) -> HttpResponse:
    response = render(request, "badges/station.html", {
        "config": {"labels": _labels(), "api": "/api/v1/badges/station/",
                   "worker": _versioned("pdf.worker.js")},
        "bundle": _versioned("station.js"),
        "stylesheet": _versioned("station.css"),
    })
    # The page holds no secrets (the token lives in the browser) and must not be framed.
    response["Cache-Control"] = "no-cache"
    response["X-Frame-Options"] = "DENY"
    return response
