"""A real attendee's badge, rendered as the server renders a print job, for the agent's tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from badges import lead, selectors
from badges.agent.client import Job
from badges.documents import badge as badges
from badges.documents.presets import PRESETS
from badges.models import BadgeLayout
from tickets import services as ticket_services

PT_PER_MM = 72 / 25.4


@dataclass
class Badge:
    pdf: bytes
    name: str
    lead_code: str
    entry_code: str
    width_mm: float
    height_mm: float

    def job(self, job_id: int = 7, attempt: int = 1) -> Job:
        return Job(id=job_id, attempt=attempt, claim="c" * 32, ticket="T-1", name=self.name,
                   gate="Nord", reprint=False, width_mm=self.width_mm, height_mm=self.height_mm,
                   preset="", pdf=f"/api/v1/badges/station/jobs/{job_id}/badge.pdf")


@pytest.fixture
def make_badge(event, register):
    made = itertools.count(1)

    def make(preset: str = "ql-62", name: str = "Giulia Rossi") -> Badge:
        ticket = register(name=name, email=f"giulia{next(made)}@example.org",
                          organisation="Coop Il Sole")
        layout = BadgeLayout(event=event, name="t", preset=preset, show_lead_qr=True)
        pdf = badges.render_badge(layout, event, selectors.badge_for(ticket, "it"))
        width, height = (value / PT_PER_MM for value in PRESETS[preset].page)
        return Badge(pdf, name, lead.lead_code(event.pk, ticket.pk),
                     ticket_services.ticket_code(ticket), round(width, 2), round(height, 2))
    return make
