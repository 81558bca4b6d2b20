"""The whole day, in order: set-up, rush, import, delivery under trouble, the doors with
their incidents watched by two dashboards, then the reconciliation."""

from __future__ import annotations

import datetime as dt
import random
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from backend.eventday import mail, rush
from backend.eventday.dashboards import Dashboard, entries_of, exits_of, login
from backend.eventday.doors import Doors, Gate
from backend.eventday.http import Http
from backend.eventday.plan import Clock, Person, forged_codes, make_plan, schedule_arrivals
from backend.eventday.reconcile import Facts, reconcile, write_report
from backend.eventday.stack import Stack

REFUSAL = "550 5.1.1 <{}>: Recipient address rejected: User unknown in virtual mailbox table"


@dataclass
class Options:
    attendees: int = 600
    invited: int = 100
    capacity: int | None = None
    gates: int = 3
    seconds_per_hour: float = 24.0
    offline_minutes: float = 10.0
    smtp_outage: float = 60.0
    smtp_per_connection: int = 20
    concurrency: int = 32
    seed: int = 2017
    var_dir: Path = Path("var/event-day")
    json_out: Path | None = None
    html_out: Path | None = None


def _tamper(code: str) -> str:
    """A real code with one character of its signature changed: a forgery."""
    i = len(code) - 3
    return code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1:]


class Day:
    def __init__(self, options: Options, say=print) -> None:
        self.o = options
        self.say = say
        self.stack = Stack(options.var_dir / time.strftime("%Y%m%d-%H%M%S"),
                           smtp_per_connection=options.smtp_per_connection)
        self.timings: dict[str, float] = {}
        self.expect: list[str] = []

    def _phase(self, name: str, started: float) -> None:
        self.timings[name] = round(time.monotonic() - started, 2)
        self.say(f"  {name}: {self.timings[name]} s")

    def run(self) -> dict:
        begun = time.monotonic()
        try:
            return self._run(begun)
        finally:
            t = time.monotonic()
            self.stack.stop()
            self.say(f"  stopping the stack: {time.monotonic() - t:.1f} s")

    def _run(self, begun: float) -> dict:
        o, stack = self.o, self.stack
        t = time.monotonic()
        stack.start()
        credentials = stack.onboard("Fondazione Welfare Milano")
        port = stack.web_port
        api = Http(port, {"Authorization": f"Token {credentials['api_token']}"})
        public = Http(port)
        plan = make_plan(o.attendees, o.invited, o.capacity, o.gates, o.offline_minutes, o.seed)
        slug = f"welfare-{secrets.token_hex(3)}"
        setup = rush.set_up(api, plan, slug, dt.date.today())
        self.say(f"stack: {stack.mode}, gunicorn on 127.0.0.1:{port}, relay on "
                 f"127.0.0.1:{stack.relay.port} (STARTTLS, AUTH, "
                 f"{o.smtp_per_connection} messages per connection), event {slug}")
        self._phase("setup", t)
        boards = [Dashboard(f"dashboard-{i + 1}", port, setup.event_id,
                            login(port, credentials["username"], credentials["password"]))
                  for i in range(2)]
        for board in boards:
            board.start()

        # 1-2: the rush, the import, and delivery with the relay down and the worker killed.
        t = time.monotonic()
        rng = random.Random(o.seed + 1)
        # Three recipients the relay refuses for good: invited guests (all of them get a
        # ticket, so the count is known); from the rush only if there are too few guests.
        guests = plan.people[o.attendees:]
        refused_people = rng.sample(guests, min(3, len(guests)))
        refused_people += rng.sample(plan.people[: o.attendees], 3 - len(refused_people))
        refused = {p.email: REFUSAL.format(p.email) for p in refused_people}
        stack.relay.handler.permanent = dict(refused)
        expected = min(plan.capacity, o.attendees) + o.invited + 3
        incidents = mail.Incidents(stack, expected, o.smtp_outage)
        incidents.start()
        other_ids = rush.other_event_tickets(api, setup, 3)
        rushed = rush.registration_rush(public, plan, setup, o.concurrency)
        self.say(f"  rush: {rushed.as_dict()}")
        self._phase("registration rush", t)
        t = time.monotonic()
        status, body = rush.import_guests(api, plan, setup)
        imported = body.get("created", body.get("imported", 0)) if status == 201 else 0
        if status != 201:
            self.expect.append(f"CSV import: {status} {body}")
        self._phase("CSV import", t)
        t = time.monotonic()
        deadline = time.monotonic() + o.smtp_outage + 240
        inbox = mail.Inbox()
        while not incidents.kill_done.is_set() and time.monotonic() < deadline:
            mail.read_inbox(stack, inbox)
            time.sleep(0.2)
        if not incidents.kill_done.is_set():
            self.expect.append("delivery incidents did not all happen (too few messages?)")
        incidents.stop()
        tickets = mail.wait_for_deliveries(api, [setup.event_id, setup.other_event_id], 300,
                                           lambda: mail.read_inbox(stack, inbox))
        mail.read_inbox(stack, inbox)
        self._phase("delivery (and reading each PDF's QR code)", t)

        main = {i: row for i, row in tickets.items() if row["event_id"] == setup.event_id}
        people = {}
        for row in api.all_pages(f"/api/v1/events/{setup.event_id}/attendees/"):
            for ticket in row["tickets"]:
                people[ticket["id"]] = {"name": row["name"], "email": row["email"]}
        by_email = {p.email: p for p in plan.people}
        holders: list[tuple[Person, str, int]] = []
        for ticket_id, row in main.items():
            key = f"{ticket_id}.{row['version']}"
            email = people.get(ticket_id, {}).get("email")
            if row["status"] == "valid" and key in inbox.codes and email in by_email:
                holders.append((by_email[email], inbox.codes[key], ticket_id))
        holders.sort(key=lambda h: h[0].index)
        schedule_arrivals(plan, [h[0] for h in holders], rng)

        # 3-4: the doors, watched by the dashboards.
        t = time.monotonic()
        clock = Clock(o.seconds_per_hour)
        gates = [Gate(i, d["gate"], d["id"], Http(port, {"Authorization": f"Token {d['token']}"}),
                      setup.list_id) for i, d in enumerate(setup.devices)]
        started = time.monotonic() + 0.5
        doors = Doors(gates, clock, started)
        revoked = next((h for h in holders if h[0].arrives is None
                        or h[0].arrives > plan.revoke_at + 20), None)
        for person, code, _ in holders:
            if revoked and person is revoked[0]:
                continue
            self._schedule(doors, plan, person, code)
        if plan.offline[1] > plan.offline[0] and o.gates > 1:
            doors.add(plan.offline[0], plan.offline_gate, "offline")
            doors.add(plan.offline[1], plan.offline_gate, "online")
        other_codes = [inbox.codes.get(f"{i}.1") for i in other_ids]
        real = [code for _, code, _ in holders[:20]]
        specials = ([("forged", c) for c in forged_codes(rng, max(2, o.attendees // 100))]
                    + [("forged", _tamper(c)) for c in real[: max(2, o.attendees // 100)]]
                    + [("other_event", c) for c in other_codes if c])
        for tag, code in specials:
            doors.add(rng.uniform(10 * 60, 12 * 60), rng.randrange(o.gates), "entry", code, tag)
        threads = doors.start()
        control = threading.Thread(target=self._reissue, daemon=True,
                                   args=(api, setup, doors, gates, inbox, revoked, plan, clock))
        control.start()
        for thread in [*threads, control]:
            thread.join()
        doors.sleep_until(clock.closes)
        self.expect += doors.errors
        self._phase("the doors (simulated 08:30-17:15)", t)

        t = time.monotonic()
        attendance = self._settle(api, setup.event_id, boards)
        for board in boards:
            board.stop()
        scan_log = api.all_pages(f"/api/v1/events/{setup.event_id}/scans/", limit=1000)
        types = {tt["id"]: tt for tt in api.all_pages(
            f"/api/v1/events/{setup.event_id}/ticket-types/")}
        sold = types[setup.rush_type]["issued_count"]
        if sold != len(rushed.ok) or sold > plan.capacity:
            self.expect.append(f"ticket type issued_count {sold}: the rush was told "
                               f"{len(rushed.ok)}, capacity {plan.capacity}")
        offline = [f"gate {gates[plan.offline_gate].label} offline "
                   f"{Clock.label(plan.offline[0])}-{Clock.label(plan.offline[1])}"
                   ] if o.gates > 1 and plan.offline[1] > plan.offline[0] else []
        facts = Facts(
            capacity=plan.capacity, rush=rushed.as_dict(), imported=imported, tickets=main,
            people_by_ticket=people, inbox_copies=inbox.copies,
            inbox_message_ids=inbox.message_ids, inbox_recipients=inbox.recipients,
            codes=inbox.codes, bad_pdfs=[f"{k}: {v}" for k, v in inbox.bad_pdfs.items()],
            refused_addresses=refused,
            gates=gates, scan_log=scan_log, attendance=attendance, dashboards=boards,
            revoked_key=str(revoked[2]) if revoked else None, expectations=self.expect,
            incidents=[*incidents.log, *offline],
            timings=self.timings,
        )
        result = reconcile(facts)
        result["mode"] = stack.mode
        handler = stack.relay.handler
        result["smtp_relay"] = {
            "messages": handler.count(), "connections": handler.connections,
            "per_connection_limit": handler.per_connection,
            "sessions_ended_at_the_limit": handler.limit_hits,
            "auth_failures": handler.auth_failures, "refused_550": len(refused)}
        self._phase("reconciliation", t)
        result["timings_s"]["total"] = round(time.monotonic() - begun, 1)
        write_report(result, gates, o.json_out, o.html_out)
        return result

    @staticmethod
    def _schedule(doors: Doors, plan, person: Person, code: str) -> None:
        if person.arrives is None:
            return
        doors.add(person.arrives, person.gate, "entry", code, "entry")
        if person.scans_twice:
            if person.twice_elsewhere:
                doors.add(person.second_at or person.arrives + 2,
                          (person.gate + 1) % plan.gates, "entry", code, "double")
            else:
                doors.add(person.arrives + 0.05, person.gate, "entry", code, "double")
        if person.lunch:
            doors.add(person.lunch[0], person.gate, "exit", code, "lunch-out")
            doors.add(person.lunch[1], person.gate, "entry", code, "lunch-in")
        elif person.leaves:
            doors.add(person.leaves, person.gate, "exit", code, "leave")

    def _reissue(self, api: Http, setup, doors: Doors, gates: list[Gate], inbox, revoked,
                 plan, clock: Clock) -> None:
        """Mid-morning the organiser reissues one ticket (a lost phone): the old code is tried
        at every gate, the holder comes in with the new one from the new e-mail."""
        if revoked is None:
            self.expect.append("nobody to reissue a ticket for")
            return
        person, old_code, ticket_id = revoked
        doors.sleep_until(plan.revoke_at)
        reply = api.request("POST", f"/api/v1/events/{setup.event_id}/tickets/{ticket_id}/"
                            "reissue/")
        if reply.status != 200:
            self.expect.append(f"reissue: {reply.status} {reply.body[:200]!r}")
            return
        key = f"{ticket_id}.{reply.json()['version']}"
        deadline = time.monotonic() + 60
        while key not in inbox.codes and time.monotonic() < deadline:
            time.sleep(0.3)
            mail.read_inbox(self.stack, inbox)
        minute = clock.minute(time.monotonic() - doors.started)
        for gate in gates:
            gate.scan(old_code, "entry", minute, "revoked_old")
        if key not in inbox.codes:
            self.expect.append(f"the reissued ticket's e-mail ({key}) did not arrive")
            return
        gates[person.gate].scan(inbox.codes[key], "entry", minute, "reissued")

    @staticmethod
    def _settle(api: Http, event_id: int, boards: list[Dashboard]) -> dict:
        """The server's figures, once both dashboards show the same (or after 15 s)."""
        deadline = time.monotonic() + 15
        while True:
            figures = api.get(f"/api/v1/events/{event_id}/attendance/").json()
            if all(_figures(b.last()) == _figures(figures) for b in boards) \
                    or time.monotonic() > deadline:
                return figures
            time.sleep(0.5)


def _figures(payload: dict) -> tuple:
    return (payload.get("checked_in"), payload.get("inside"), payload.get("registered"),
            entries_of(payload), exits_of(payload))
