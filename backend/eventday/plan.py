"""The day's plan, drawn from one seed: who registers (and how badly), who is invited, when
each person arrives and at which gate, who scans twice, leaves for lunch or goes home early,
the forged codes, and the simulated clock that maps the day onto real seconds."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

FIRST = ["Giulia", "Marco", "Francesca", "Luca", "Chiara", "Andrea", "Sara", "Matteo", "Elena",
         "Davide", "Anna", "Paolo", "Laura", "Stefano", "Silvia", "Nicolò", "Zoë", "Özlem"]
LAST = ["Rossi", "Bianchi", "Esposito", "Romano", "Colombo", "Ricci", "Marino", "Greco",
        "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "D'Angelo", "Fontana"]
ORGS = ["Cooperativa Il Sole", "Comune di Milano", "Fondazione Cariplo", "ATS Milano",
        "Caritas Ambrosiana", "CGIL Lombardia", "Università Bicocca", ""]


@dataclass(frozen=True)
class Clock:
    """Simulated day time (minutes after midnight) <-> real seconds after the doors opened."""

    seconds_per_hour: float
    opens: float = 8 * 60 + 30  # the doors' day starts at 08:30 ...
    closes: float = 17 * 60 + 15  # ... and the last exit is by 17:15

    def real(self, minute: float) -> float:
        return (minute - self.opens) / 60 * self.seconds_per_hour

    def minute(self, real_seconds: float) -> float:
        return self.opens + real_seconds / self.seconds_per_hour * 60

    @staticmethod
    def label(minute: float) -> str:
        return f"{int(minute // 60):02d}:{int(minute % 60):02d}"


@dataclass
class Person:
    index: int
    name: str
    email: str
    organisation: str
    language: str
    invited: bool = False
    arrives: float | None = None  # simulated minute, None: a no-show
    gate: int = 0
    scans_twice: bool = False  # the second scan a few seconds later, maybe at another gate
    twice_elsewhere: bool = False
    second_at: float | None = None  # when the second scan comes (default: 2 minutes later)
    lunch: tuple[float, float] | None = None  # exit, re-entry
    leaves: float | None = None  # exit for good


@dataclass
class Plan:
    attendees: int
    invited: int
    capacity: int
    gates: int
    seed: int
    offline_gate: int
    offline: tuple[float, float]  # simulated minutes
    revoke_at: float
    people: list[Person] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)  # indices registering a second time
    malformed: list[dict] = field(default_factory=list)


def make_plan(attendees: int, invited: int, capacity: int | None, gates: int,
              offline_minutes: float, seed: int) -> Plan:
    rng = random.Random(seed)
    capacity = capacity if capacity is not None else max(1, attendees * 11 // 12)
    offline_start = 9 * 60 + 20
    plan = Plan(attendees, invited, capacity, gates, seed, offline_gate=gates - 1,
                offline=(offline_start, offline_start + offline_minutes),
                revoke_at=10 * 60 + 30)
    for i in range(attendees + invited):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        plan.people.append(Person(
            i, f"{name} {i}", f"persona{i}@convegno.example", rng.choice(ORGS),
            rng.choice(["it", "it", "it", "en"]), invited=i >= attendees,
        ))
    # 2 % of the rush sends the same e-mail twice (a double click, a second device).
    plan.duplicates = rng.sample(range(attendees), max(1, attendees // 50))
    plan.malformed = [
        {"name": "", "email": "vuoto@convegno.example"},
        {"name": "Senza Posta", "email": "non-un-indirizzo"},
        {"name": "Troppo " * 60, "email": "lungo@convegno.example"},
        {"name": "Lingua Strana", "email": "lingua@convegno.example", "language": "xx"},
        {"email": "nome-mancante@convegno.example"},
    ][: max(1, attendees // 100) + 1]
    return plan


def schedule_arrivals(plan: Plan, holders: list[Person], rng: random.Random) -> None:
    """The arrival wave over the people holding a ticket: 80 % between 08:50 and 09:35
    (peak 09:15-09:35), 12 % late (to 11:30), 8 % no-shows; lunch exits and re-entries,
    early leavers, double scans."""
    for person in holders:
        draw = rng.random()
        if draw < 0.80:
            person.arrives = rng.triangular(8 * 60 + 50, 9 * 60 + 35, 9 * 60 + 25)
        elif draw < 0.92:
            person.arrives = rng.uniform(9 * 60 + 35, 11 * 60 + 30)
        else:
            continue
        person.gate = rng.randrange(plan.gates)
        if rng.random() < 0.02:
            person.scans_twice = True
            person.twice_elsewhere = plan.gates > 1 and rng.random() < 0.5
        if rng.random() < 0.25:
            out = rng.uniform(13 * 60, 13 * 60 + 30)
            person.lunch = (max(out, person.arrives + 30), rng.uniform(14 * 60, 14 * 60 + 30))
        elif rng.random() < 0.10:
            person.leaves = rng.uniform(15 * 60 + 30, 16 * 60 + 45)
    _offline_gate_is_used(plan, [p for p in holders if p.arrives is not None], rng)


def _offline_gate_is_used(plan: Plan, arrived: list[Person], rng: random.Random) -> None:
    """However small the day, the offline gate queues scans, and one of them is a conflict:
    three people arrive there while it is offline, and a fourth, in through the gate before
    it half an hour earlier, shows the code there too (a 'double' scan elsewhere)."""
    low, high = plan.offline
    if plan.gates < 2 or high <= low or len(arrived) < 4:
        return
    for person in arrived[:3]:
        person.arrives = rng.uniform(low, high)
        person.gate = plan.offline_gate
        person.scans_twice = False
    fourth = arrived[3]
    # Half an hour apart: the answer of the first scan is in long before the gate syncs,
    # however far behind a busy gate's thread runs.
    fourth.arrives = low - 30
    fourth.second_at = rng.uniform(low, high)
    fourth.gate = (plan.offline_gate - 1) % plan.gates
    fourth.scans_twice = fourth.twice_elsewhere = True
    fourth.lunch = fourth.leaves = None


def forged_codes(rng: random.Random, count: int) -> list[str]:
    """Codes no Varco key signed: random text, and look-alikes of the code format's alphabet."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    codes = [f"VARCO-{rng.randrange(10**9)}" for _ in range(count // 2)]
    codes += ["".join(rng.choice(alphabet) for _ in range(40)) for _ in range(count - len(codes))]
    return codes


def event_day(today: dt.date | None = None) -> dt.date:
    return today or dt.date.today()
