"""The drill in order: the stack up, the scan wave on, then one fault at a time — a web host
SIGKILLed, a worker host SIGKILLed mid-delivery, the primary stopped and the standby
promoted, Redis restarted — each step printing what it did and what it measured; then the
counts (``checks``), every mismatch a line of ``mismatches``."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg

from backend.eventday.dashboards import Dashboard, login
from backend.eventday.http import Http, percentiles
from backend.scaledrill import checks
from backend.scaledrill.engines import (
    Cluster,
    HAProxy,
    PgBouncer,
    Redis,
    free_port,
    wait_until,
)
from backend.scaledrill.hosts import Sink, Varco
from backend.scaledrill.metrics import HostFigures
from backend.scaledrill.wave import Device, Wave, recovery

# The invalid-code flood limit the hosts run with (the defaults of VARCO_SCAN_INVALID_BURST and
# VARCO_SCAN_INVALID_RATE): shared through Redis, one device gets this much across all hosts.
FLOOD_BURST, FLOOD_RATE = 20, 5


@dataclass
class Options:
    attendees: int = 4000  # tickets of the scanned event (the wave re-scans when it runs out)
    devices: int = 20
    rate: float = 60.0  # scans per second, all devices together
    registrations: int = 400  # sold (and e-mailed) during the worker step
    web_workers: int = 2  # gunicorn processes per web host
    settle: float = 8.0  # seconds of wave between two steps
    var_dir: Path = Path("var/scale-drill")
    keep: bool = False  # keep the clusters' directory after a successful run
    json_out: Path | None = None


class Drill:
    def __init__(self, options: Options, say=print) -> None:
        self.o = options
        self.say = say
        self.run_dir = (options.var_dir / time.strftime("%Y%m%d-%H%M%S")).resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="varco-scale-"))
        if os.geteuid() == 0:  # PostgreSQL and PgBouncer run as postgres (engines.py)
            shutil.chown(self.root, "postgres", "postgres")
        self.primary = Cluster("primary", self.root, free_port())
        self.standby = Cluster("standby", self.root, free_port())
        self.bouncer = PgBouncer(self.root)
        self.redis = Redis(self.root)
        self.balancer = HAProxy(self.root)
        self.sink = Sink()
        self.varco: Varco | None = None
        self.export = self.run_dir / "demo"
        self.lost_figures = HostFigures()
        self.result: dict = {"steps": {}, "mismatches": []}
        self.began = time.monotonic()

    # -- output ----------------------------------------------------------------------------
    def step(self, text: str) -> None:
        self.say(f"[{time.monotonic() - self.began:6.1f} s] {text}")

    def mismatch(self, text: str) -> None:
        self.result["mismatches"].append(text)
        self.step(f"  MISMATCH: {text}")

    def expect(self, ok: bool, text: str) -> None:
        self.step(f"  {'ok' if ok else 'MISMATCH'}: {text}")
        if not ok:
            self.result["mismatches"].append(text)

    # -- the whole run ---------------------------------------------------------------------
    def run(self) -> dict:
        ok = False
        try:
            self._run()
            ok = not self.result["mismatches"]
        finally:
            self._stop()
            if ok and not self.o.keep:
                shutil.rmtree(self.root, ignore_errors=True)
            else:
                self.say(f"clusters, PgBouncer and HAProxy files kept in {self.root}")
            self.say(f"logs of the Varco hosts in {self.run_dir}")
        self.result["seconds"] = round(time.monotonic() - self.began, 1)
        if self.o.json_out:
            self.o.json_out.write_text(json.dumps(self.result, indent=2))
        return self.result

    def _stop(self) -> None:
        if self.varco is not None:
            self.varco.stop_all()
        for engine in (self.balancer, self.bouncer, self.redis):
            engine.stop()
        for cluster in (self.primary, self.standby):
            cluster.stop("fast")
        self.sink.stop()

    def _run(self) -> None:
        self._start()
        credentials, devices, probes, sale = self._set_up()
        lb = self.balancer.port
        board = Dashboard("dashboard", lb, credentials["event_id"],
                          login(lb, credentials["username"], credentials["password"]))
        board.start()
        wave = Wave(devices, self.o.rate)
        wave.start()
        self.step(f"scan wave: {len(devices)} devices, {self.o.rate:g} scans/s through the "
                  f"balancer, retrying with the same nonce")
        time.sleep(self.o.settle)
        try:
            self._kill_web_host(wave)
            self._kill_worker(sale)
            self._failover(wave)
            self._restart_redis(wave, probes)
        finally:
            self.step("stopping the wave")
            wave.stop()
        board_figures = self._settle_dashboard(board, credentials)
        board.stop()
        self._reconcile(wave, sale, board_figures)

    # -- start-up --------------------------------------------------------------------------
    def _start(self) -> None:
        """The primary first, its schema and the seeded tickets (the operator's commands,
        straight to it), then the standby copied from it, then everything on top."""
        t = time.monotonic()
        self.primary.init_primary()
        self.redis.start()
        self.sink.start()
        self.bouncer.port = free_port()
        self.balancer.port = free_port()
        self.varco = Varco(self.run_dir, self.bouncer.url(), self.redis.url(), self.sink.port,
                           f"http://127.0.0.1:{self.balancer.port}",
                           web_workers=self.o.web_workers)
        self.step(f"PostgreSQL 15 primary on :{self.primary.port} in "
                  f"{time.monotonic() - t:.1f} s; Redis on :{self.redis.port}; SMTP sink on "
                  f":{self.sink.port}")
        t = time.monotonic()
        self.varco.manage("migrate", "--no-input", "-v0", database_url=self.primary.url())
        self.export = self.run_dir / "demo"
        self.lost_figures = HostFigures()
        # Seeded by the operator's command; no e-mails (these tickets are scanned, not sent).
        self.varco.manage("seed_demo", "--attendees", str(self.o.attendees), "--export",
                          str(self.export), database_url=self.primary.url(),
                          VARCO_SEND_ON_ISSUE="false")
        self.step(f"migrated and seeded {self.o.attendees} tickets (straight to the primary) "
                  f"in {time.monotonic() - t:.1f} s")
        t = time.monotonic()
        self.standby.init_standby(self.primary)
        self.primary.end_bootstrap()
        if not wait_until(lambda: self.primary.synchronous_standby() is not None, 30):
            raise RuntimeError("the standby did not become synchronous")
        self.step(f"streaming standby on :{self.standby.port} "
                  f"({self.primary.synchronous_standby()}, synchronous) in "
                  f"{time.monotonic() - t:.1f} s")
        self.bouncer.start(self.primary.port)
        t = time.monotonic()
        for host in self.varco.web_hosts():
            self.varco.start_web(host)
        for host in self.varco.web_hosts():
            self.varco.wait_web(host)
        self.balancer.start([f"{self.varco.address(h)}:{self.varco.web_port}"
                             for h in self.varco.web_hosts()], "127.0.0.1")
        if not wait_until(lambda: self._up() == set(self.varco.web_hosts()), 30):
            raise RuntimeError(f"HAProxy does not see every web host: {self.balancer.servers()}")
        self.varco.start_worker("worker1")
        self.varco.start_worker("worker2")
        self.varco.start_scheduler()
        self.step(f"PgBouncer (transaction mode) on :{self.bouncer.port} -> primary; HAProxy "
                  f"on 127.0.0.1:{self.balancer.port} -> web1-3 on 127.0.0.2-4:"
                  f"{self.varco.web_port} ({self.o.web_workers} gunicorn processes each); "
                  f"worker1, worker2 (every queue), one scheduler; in "
                  f"{time.monotonic() - t:.1f} s")

    def _up(self) -> set[str]:
        return {name for name, state in self.balancer.servers().items()
                if state.startswith("UP") and not name.endswith("-open")}

    def _set_up(self) -> tuple[dict, list[Device], list[Device], dict]:
        t = time.monotonic()
        export = self.export
        credentials = json.loads((export / "organiser.json").read_text())
        list_id = json.loads((export / "device.json").read_text())["list"]
        codes = [c for c in (export / "codes.txt").read_text().splitlines() if c]
        api = Http(self.balancer.port, {"Authorization": f"Token {credentials['api_token']}"})
        event = credentials["event_id"]

        def device(name: str) -> tuple[int, str]:
            reply = api.post_json(f"/api/v1/events/{event}/devices/",
                                  {"name": name, "gate": name, "lists": [list_id]})
            if reply.status != 201:
                raise RuntimeError(f"device {name}: {reply.status} {reply.body[:300]!r}")
            return reply.json()["id"], reply.json()["token"]

        # Each device its own share of the codes; one code in 20 also at the next device (two
        # gates, one person: one of them must be told "already checked in").
        n = self.o.devices
        shares: list[list[str]] = [codes[i::n] for i in range(n)]
        for i in range(n):
            shares[(i + 1) % n] += shares[i][::20]
        devices = []
        for i in range(n):
            device_id, token = device(f"Gate {i + 1:02d}")
            devices.append(Device(device_id, token, list_id, shares[i],
                                  Http(self.balancer.port, timeout=5)))
        probes = []
        for i in range(2):
            device_id, token = device(f"Flood probe {i + 1}")
            probes.append(Device(device_id, token, list_id, [], Http(self.balancer.port)))
        sale = self._sale_event(api, credentials)
        self.step(f"{n} door devices and 2 flood probes (organiser API), an event on sale "
                  f"({sale['slug']}) in {time.monotonic() - t:.1f} s")
        return credentials, devices, probes, sale

    def _sale_event(self, api: Http, credentials: dict) -> dict:
        organisers = api.get("/api/v1/organisers/").json()
        organiser = (organisers["results"] if isinstance(organisers, dict)
                     else organisers)[0]["id"]
        slug = f"sale-{secrets.token_hex(3)}"
        day = time.strftime("%Y-%m-%d")
        reply = api.post_json("/api/v1/events/", {
            "organiser": organiser, "name": "Scale drill sale", "slug": slug,
            "venue": "Loopback", "timezone": "Europe/Rome", "start": f"{day}T09:00:00",
            "end": f"{day}T18:00:00", "languages": ["it", "en"], "registration_open": True})
        if reply.status != 201:
            raise RuntimeError(f"sale event: {reply.status} {reply.body[:300]!r}")
        event = reply.json()["id"]
        reply = api.post_json(f"/api/v1/events/{event}/ticket-types/", {
            "name": "Ingresso", "capacity": self.o.registrations, "public": True})
        if reply.status != 201:
            raise RuntimeError(f"sale ticket type: {reply.status} {reply.body[:300]!r}")
        return {"id": event, "slug": slug, "api": api, "registered": {}}

    # -- step 1: a web host SIGKILLed ------------------------------------------------------
    def _kill_web_host(self, wave: Wave) -> None:
        self.step("STEP 1: SIGKILL web2 (its gunicorn master and workers, at once)")
        # What web2 counted dies with it: its last scrape stands for it in the totals.
        self.lost_figures = self.varco.metrics("web2") or HostFigures()
        at = time.monotonic()
        self.varco.kill("web2")
        wait_until(lambda: "web2" not in self._up(), 30, 0.05)
        out_after = time.monotonic() - at
        self.step(f"  HAProxy took web2 out after {out_after:.1f} s")
        time.sleep(self.o.settle / 2)
        restarted = time.monotonic()
        self.varco.start_web("web2")
        self.varco.wait_web("web2")
        back = wait_until(lambda: "web2" in self._up(), 30, 0.05)
        back_after = time.monotonic() - restarted
        # Back for real: its own /metrics counts scans the balancer sent it.
        serving = wait_until(lambda: (self.varco.metrics("web2") or HostFigures()).scans > 0,
                             30, 0.1)
        serving_after = time.monotonic() - restarted
        time.sleep(self.o.settle / 2)
        effect = recovery(wave.all_scans(), at, time.monotonic())
        backend = self.balancer.stats().get("BACKEND", {})
        effect["balancer_retries"] = int(backend.get("wretr") or 0)
        effect["balancer_redispatches"] = int(backend.get("wredis") or 0)
        effect["balancer_5xx"] = int(backend.get("hrsp_5xx") or 0)
        self.step(f"  HAProxy retried {effect['balancer_retries']} connections "
                  f"({effect['balancer_redispatches']} on another host) and answered "
                  f"{effect['balancer_5xx']} 5xx so far")
        self.step(f"  web2 restarted, healthy and back in rotation after {back_after:.1f} s; "
                  f"scans retried: {effect['scans_retried']} ({effect['failed_attempts']} "
                  f"failed attempts: {', '.join(effect['kinds']) or 'none'}); the longest a "
                  f"device waited for an answer: {effect['longest_wait_s']} s")
        self.step(f"  web2's own /metrics counts scans again {serving_after:.1f} s after its "
                  "restart")
        self.expect(back and serving, "web2 back in HAProxy's rotation and answering scans")
        self.expect(effect["longest_wait_s"] <= 10,
                    f"devices recovered within seconds (longest wait {effect['longest_wait_s']} "
                    "s, at most 10)")
        self.result["steps"]["web_host_killed"] = {
            "out_of_rotation_after_s": round(out_after, 2),
            "back_in_rotation_after_restart_s": round(back_after, 2),
            "answering_scans_after_restart_s": round(serving_after, 2), **effect}

    # -- step 2: a worker host SIGKILLed mid-delivery --------------------------------------
    def _kill_worker(self, sale: dict) -> None:
        n = self.o.registrations
        self.step(f"STEP 2: {n} registrations through the balancer, each e-mailing its "
                  "ticket; SIGKILL worker1 mid-delivery")
        public = Http(self.balancer.port, timeout=30)
        before = self.sink.handler.count()
        # The seeded tickets are being e-mailed too (the sweep finds tickets issued without a
        # delivery): worker1 dies with a third of the sale's messages out and more queued.
        killer = threading.Thread(target=self._worker_killer, args=(before, n), daemon=True)
        killer.start()
        latencies: list[float] = []

        def register(i: int) -> None:
            payload = {"name": f"Persona {i}", "email": f"drill-{i}@example.org",
                       "organisation": "Scale drill"}
            for _ in range(10):
                try:
                    reply = public.post_json(f"/api/v1/public/events/{sale['slug']}/register/",
                                             payload)
                except OSError:
                    public._local.connection = None
                    time.sleep(0.5)
                    continue
                latencies.append(reply.seconds * 1000)
                if reply.status == 201:
                    sale["registered"][i] = reply.json()
                    return
                if reply.status not in (502, 503, 504):
                    sale.setdefault("refused", []).append(f"{reply.status} {reply.body[:200]!r}")
                    return
                time.sleep(0.5)

        t = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(register, range(n)))
        rush = time.monotonic() - t
        killer.join(timeout=300)
        done = wait_until(lambda: self._open_deliveries() == 0, 600, 0.5)
        seconds = time.monotonic() - t
        sent = self.sink.handler.count() - before
        self.step(f"  {len(sale['registered'])} registered in {rush:.1f} s "
                  f"({len(sale['registered']) / rush:.0f}/s, latency {percentiles(latencies)} "
                  f"ms); every delivery settled after {seconds:.1f} s; {sent} messages")
        self.expect(done, "no delivery left queued, sending or in doubt")
        self.expect(self.result.get("_open_at_kill", 0) > 0,
                    f"worker1 died mid-delivery ({self.result.get('_open_at_kill')} deliveries "
                    "open at that instant)")
        self.expect(len(sale["registered"]) == n and not sale.get("refused"),
                    f"{n} registrations acknowledged ({len(sale['registered'])}; refused: "
                    f"{sale.get('refused', [])[:3]})")
        self.result["steps"]["worker_killed"] = {
            "registered": len(sale["registered"]), "messages": sent,
            "registration_latency_ms": percentiles(latencies),
            "seconds_to_settle": round(seconds, 1), "killed_after_messages":
                self.result.get("_killed_after"),
            "open_deliveries_at_kill": self.result.pop("_open_at_kill", None)}

    def _worker_killer(self, before: int, expected: int) -> None:
        if not wait_until(lambda: self.sink.handler.count() - before >= expected // 3, 240,
                          0.05):
            self.mismatch("the deliveries never reached a third: worker1 was not killed")
            return
        self.varco.kill("worker1")
        self.result["_killed_after"] = self.sink.handler.count() - before
        self.result["_open_at_kill"] = self._open_deliveries()
        self.step(f"  worker1 SIGKILLed after {self.result['_killed_after']} messages; "
                  "worker2 carries on, worker1 restarted in 2 s")
        time.sleep(2)
        self.varco.start_worker("worker1")

    def _open_deliveries(self) -> int:
        """Deliveries not settled, and valid tickets with none yet (the sweep's to queue)."""
        try:
            return self._primary().query(
                "SELECT (SELECT count(*) FROM tickets_delivery WHERE state IN "
                "('queued', 'sending', 'in_doubt')) + (SELECT count(*) FROM tickets_ticket t "
                "WHERE status = 'valid' AND NOT EXISTS (SELECT 1 FROM tickets_delivery d "
                "WHERE d.ticket_id = t.id AND d.version = t.version))")[0][0]
        except psycopg.Error:  # the primary of the moment is down: asked again
            return -1

    def _primary(self) -> Cluster:
        return self.standby if self.standby.role == "primary" else self.primary

    # -- step 3: the primary stopped, the standby promoted ---------------------------------
    def _failover(self, wave: Wave) -> None:
        self.step("STEP 3: stop the primary (immediate: a crash), promote the standby, point "
                  "PgBouncer at it")
        last_lsn = self.primary.query("SELECT pg_current_wal_lsn()::text")[0][0]
        at = time.monotonic()
        self.primary.stop("immediate")
        stopped = time.monotonic()
        self.standby.promote()
        promoted = time.monotonic()
        self.bouncer.repoint(self.standby.port)
        repointed = time.monotonic()
        self.step(f"  primary down in {stopped - at:.2f} s; standby promoted in "
                  f"{promoted - stopped:.2f} s; PgBouncer reloaded in {repointed - promoted:.2f}"
                  f" s (primary's last WAL position {last_lsn})")
        first_write = self._first_ok_after(wave, stopped, 60)
        time.sleep(self.o.settle)
        effect = recovery(wave.all_scans(), at, time.monotonic())
        downtime = (first_write - at) if first_write else None
        self.step(f"  write downtime (primary stopped -> first scan written on the new "
                  f"primary): {downtime:.2f} s; scans retried: {effect['scans_retried']}; "
                  f"longest wait {effect['longest_wait_s']} s" if downtime is not None else
                  "  no scan was written after the failover")
        self.expect(downtime is not None, "writes resumed on the promoted standby")
        self.result["steps"]["failover"] = {
            "write_downtime_s": round(downtime, 2) if downtime else None,
            "promote_s": round(promoted - stopped, 2),
            "pgbouncer_reload_s": round(repointed - promoted, 2), **effect}

    def _first_ok_after(self, wave: Wave, since: float, timeout: float) -> float | None:
        """When the first scan *started* after ``since`` was answered (it needed a write)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [s.answered for s in wave.all_scans()
                    if s.started > since and s.answered is not None]
            if done:
                return min(done)
            time.sleep(0.05)
        return None

    # -- step 4: Redis restarted -----------------------------------------------------------
    def _restart_redis(self, wave: Wave, probes: list[Device]) -> None:
        before = checks.flood_probe(probes[0])
        self.step(f"STEP 4: restart Redis (SIGKILL, then an empty one on the same port); "
                  f"before: a burst of {before['sent']} invalid codes from one device -> "
                  f"{before['accepted']} answered, {before['limited']} refused 429")
        at = time.monotonic()
        self.redis.kill()
        time.sleep(2)
        self.redis.start()
        back = time.monotonic()
        healthy = wait_until(lambda: self._up() == set(self.varco.web_hosts()), 30, 0.1)
        self.step(f"  Redis back after {back - at:.1f} s; every web host healthy again after "
                  f"{time.monotonic() - back:.1f} s")
        self.expect(healthy, "every web host back in rotation after the Redis restart")
        time.sleep(self.o.settle)
        after = checks.flood_probe(probes[1])
        effect = recovery(wave.all_scans(), at, time.monotonic())
        self.step(f"  after: a burst of {after['sent']} invalid codes -> {after['accepted']} "
                  f"answered, {after['limited']} refused 429; scans retried during the "
                  f"restart: {effect['scans_retried']}")
        self.expect(after["limited"] > 0, "the flood limit holds again after the restart")
        for name, probe in (("before", before), ("after", after)):
            allowed = FLOOD_BURST + FLOOD_RATE * probe["seconds"] + 5
            self.expect(probe["accepted"] <= allowed,
                        f"one budget per device across every host and process ({name}: "
                        f"{probe['accepted']} answered, at most {allowed:.0f} = burst "
                        f"{FLOOD_BURST} + {FLOOD_RATE}/s x {probe['seconds']} s + 5)")
        self.expect(after["accepted"] <= max(before["accepted"], 1) * 1.5 + 5,
                    f"the flood limit after the restart ({after['accepted']} answered) is the "
                    f"limit before it ({before['accepted']})")
        self.result["steps"]["redis_restarted"] = {
            "flood_before": before, "flood_after": after, "redis_down_s": round(back - at, 2),
            **effect}
        self._redis_back = back

    # -- the end ---------------------------------------------------------------------------
    def _settle_dashboard(self, board: Dashboard, credentials: dict) -> dict:
        api = Http(self.balancer.port, {"Authorization": f"Token {credentials['api_token']}"})
        url = f"/api/v1/events/{credentials['event_id']}/attendance/"
        figures: dict = {}

        def same() -> bool:
            nonlocal figures
            figures = api.get(url).json()
            last = board.last()
            return all(last.get(k) == figures.get(k) for k in ("checked_in", "inside"))

        settled = wait_until(same, 20, 0.5)
        since_redis = [at for at, _ in board.updates if at > getattr(self, "_redis_back", 0)]
        self.step(f"dashboard: {len(board.updates)} updates, {board.connects} connections, "
                  f"{len(since_redis)} updates after Redis came back; shows checked in "
                  f"{board.last().get('checked_in')}, the API says {figures.get('checked_in')}")
        self.expect(settled, "the live dashboard shows the server's figures")
        self.expect(len(since_redis) > 0, "the live dashboard kept updating after the Redis "
                                           "restart")
        return figures

    def _reconcile(self, wave: Wave, sale: dict, attendance: dict) -> None:
        self.step("reconciling with the database (the promoted standby, now the primary)")
        db = self._primary()
        for line, ok in checks.scans(wave, db, attendance):
            self.expect(ok, line)
        for line, ok in checks.deliveries(sale, self.sink, db):
            self.expect(ok, line)
        for text in wave.unexpected[:10]:
            self.mismatch(f"unexpected answer: {text}")
        figures = self.lost_figures
        for host in self.varco.web_hosts():
            figures = figures + (self.varco.metrics(host) or HostFigures())
        self.expect(figures.stalled == 0,
                    f"no scan request stalled: {figures.stalled:g} answered after more than 5 s "
                    f"({figures.slow:g} after more than 1 s; {figures.scans:g} scans counted by "
                    "the hosts' /metrics)")
        self.result["host_metrics"] = {"scans": figures.scans, "over_1s": figures.slow,
                                       "over_5s": figures.stalled}
        scans = wave.all_scans()
        answered = [s for s in scans if s.answered is not None]
        self.result["scans"] = {
            "sent": len(scans), "answered": len(answered),
            "ok": sum(1 for s in answered if s.status == "ok"),
            "already_checked_in": sum(1 for s in answered
                                      if s.reason == "already_checked_in"),
            "retried": sum(1 for s in scans if s.failures),
            "latency_ms": percentiles([(s.answered - s.started) * 1000 for s in answered]),
        }
        self.result.pop("_killed_after", None)
        self.step(f"scans: {json.dumps(self.result['scans'])}")

