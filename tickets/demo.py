"""Demo seed data: the "Ma come gira questo Welfare" conference and realistic attendees.

This is the only place the demo event is described; nothing else in Varco knows about it.
Names are drawn with a fixed seed so that repeated runs produce the same people.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo

from django.db import transaction

from core import languages
from tickets import services
from tickets.models import Attendee, Event, Organiser, TicketType

ORGANISER = {"name": "Fondazione Cariplo", "slug": "fondazione-cariplo"}
EVENT = {
    "name": "Ma come gira questo Welfare",
    "slug": "welfare-in-azione-2017",
    "description": "Welfare in Azione — incontro dei 27 progetti di welfare di comunità.",
    "venue": "Teatro Elfo Puccini",
    "address": "Corso Buenos Aires 33, 20124 Milano",
    "timezone": "Europe/Rome",
    "languages": list(languages.CODES),
    # Demo data only: what an organiser would enter for the ticket's practical information.
    "practical_info": {
        "it": {
            "directions": "Teatro Elfo Puccini, Corso Buenos Aires 33, Milano.\n"
                          "Metropolitana M1 Lima o Porta Venezia; tram 5 e 33.\n"
                          "Nessun parcheggio riservato: vi consigliamo i mezzi pubblici.",
            "programme": "09:30 accoglienza e registrazione\n10:00 apertura dei lavori\n"
                         "13:00 pranzo\n14:30 i 27 progetti si presentano\n17:00 chiusura",
            "contact": "Segreteria organizzativa: welfare@example.org",
        },
        "en": {
            "directions": "Teatro Elfo Puccini, Corso Buenos Aires 33, Milan.\n"
                          "Underground M1 Lima or Porta Venezia; trams 5 and 33.\n"
                          "No reserved parking: please come by public transport.",
            "programme": "09:30 welcome and registration\n10:00 opening\n13:00 lunch\n"
                         "14:30 the 27 projects present themselves\n17:00 close",
            "contact": "Organisers' office: welfare@example.org",
        },
    },
}
_TZ = zoneinfo.ZoneInfo("Europe/Rome")
START = dt.datetime(2017, 9, 22, 9, 30, tzinfo=_TZ)
END = dt.datetime(2017, 9, 22, 17, 0, tzinfo=_TZ)
TICKET_TYPE = {"name": "Ingresso", "name_i18n": {"en": "Admission"}, "price": 0}

FIRST_NAMES = [
    "Giulia",
    "Francesca",
    "Chiara",
    "Sara",
    "Martina",
    "Valentina",
    "Alessandra",
    "Elena",
    "Silvia",
    "Federica",
    "Laura",
    "Paola",
    "Anna",
    "Maria",
    "Roberta",
    "Simona",
    "Cristina",
    "Elisa",
    "Ilaria",
    "Marta",
    "Lucia",
    "Giovanna",
    "Serena",
    "Barbara",
    "Marco",
    "Andrea",
    "Luca",
    "Giuseppe",
    "Francesco",
    "Alessandro",
    "Matteo",
    "Lorenzo",
    "Davide",
    "Stefano",
    "Paolo",
    "Giovanni",
    "Roberto",
    "Simone",
    "Fabio",
    "Massimo",
    "Riccardo",
    "Antonio",
    "Daniele",
    "Emanuele",
    "Pietro",
    "Claudio",
]
LAST_NAMES = (
    (
        "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti "
        "De Luca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro Mariani "
        "Rinaldi Caruso Ferrara Galli Martini Leone Longo Gentile Martinelli Vitale Lombardo Serra "
        "Coppola De Santis D'Angelo Marchetti Parisi Villa Conte Ferraro Ferri Fabbri Bianco "
        "Marini "
        "Grasso Valentini Messina Sala De Angelis Gatti Pellegrini Palumbo Sanna Farina Rizzi "
        "Monti Cattaneo Morelli Amato Silvestri Mazza Testa Grassi Pellegrino Carbone Giuliani"
    )
    .replace("De Luca", "De_Luca")
    .replace("De Santis", "De_Santis")
    .replace("De Angelis", "De_Angelis")
    .split()
)
ORG_KINDS = (
    "Cooperativa sociale",
    "Associazione",
    "Fondazione",
    "Comune di",
    "Consorzio",
    "ACLI",
    "Caritas",
    "Parrocchia di",
    "ASST",
    "Impresa sociale",
)
ORG_NAMES = (
    "Il Sole",
    "La Rete",
    "Insieme",
    "Arcobaleno",
    "Il Ponte",
    "Terre di Mezzo",
    "Lo Snodo",
    "La Bottega",
    "Il Girasole",
    "Comunità Aperta",
    "Spazio Giovani",
    "Filo di Seta",
    "Oltre",
    "La Piazza",
    "Il Cortile",
    "Mani Tese",
    "La Strada",
    "Casa Comune",
    "Il Seme",
    "Orizzonti",
    "Milano",
    "Bergamo",
    "Brescia",
    "Como",
    "Lecco",
    "Varese",
    "Pavia",
    "Cremona",
    "Mantova",
    "Lodi",
    "Monza",
    "Sondrio",
    "Legnano",
    "Rho",
    "Sesto San Giovanni",
    "Cinisello Balsamo",
)
PROJECTS = 27
ORGANISATIONS = 263


def organisations(count: int = ORGANISATIONS) -> list[str]:
    rng = random.Random(2017)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        name = f"{rng.choice(ORG_KINDS)} {rng.choice(ORG_NAMES)}"
        if name in seen:
            name = f"{name} {len(names) % 9 + 2}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def people(count: int) -> list[tuple[str, str, str, str]]:
    """(name, email, organisation, language) for ``count`` attendees, deterministic."""
    rng = random.Random(22092017)
    orgs = organisations()
    result = []
    for index in range(count):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES).replace("_", " ")
        local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        email = f"{local}.{index + 1}@example.org"
        language = "en" if rng.random() < 0.08 else "it"
        result.append((f"{first} {last}", email, orgs[index % len(orgs)], language))
    return result


@transaction.atomic
def seed_event() -> tuple[Organiser, Event, TicketType]:
    organiser = services.create_organiser(ORGANISER["name"], ORGANISER["slug"])
    event = Event.objects.filter(slug=EVENT["slug"]).first()
    if event is None:
        event = services.create_event(organiser, start=START, end=END, **EVENT)
    services.ensure_event_key(event)
    ticket_type, _ = TicketType.objects.get_or_create(
        event=event,
        name=TICKET_TYPE["name"],
        defaults={"name_i18n": TICKET_TYPE["name_i18n"], "price": TICKET_TYPE["price"]},
    )
    return organiser, event, ticket_type


def seed_attendees(event: Event, count: int, progress=None) -> int:
    """Register the first ``count`` demo people not yet registered; return how many were new."""
    existing = set(Attendee.objects.filter(event=event).values_list("email", flat=True))
    created = 0
    batch = [p for p in people(count) if p[1] not in existing]
    for start in range(0, len(batch), 200):
        with transaction.atomic():
            for name, email, organisation, language in batch[start : start + 200]:
                services.register(
                    event,
                    services.Registration(name, email, organisation, language),
                )
                created += 1
        if progress:
            progress(min(start + 200, len(batch)), len(batch))
    return created
