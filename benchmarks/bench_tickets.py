"""``make bench-tickets``: PDF render cost and end-to-end e-mail throughput (not run in CI).

1. Render: ms per ticket of Varco's PDF (``tickets.documents.pdf``) against a raw floor
   measured in the same process, interleaved round by round: reportlab + qrcode drawing one A4
   page with the QR code (qrcode's own image, placed with ``drawInlineImage``) and 5 lines of
   Helvetica. Twice: the demo event as seeded (practical information, each ticket in its
   attendee's language), then designed (a logo, a brand colour, both languages per ticket).
2. End to end: N tickets (default 5,000) issued, then queued as ``issue_tickets`` does and
   rendered + e-mailed by ``python -m worker --concurrency 2`` (2 worker processes) on Redis to
   a local SMTP sink (a minimal asyncio SMTP server in this process, counting messages).
   Prints tickets/s, the workers' RSS at start, peak and end, and the targets: render <= 1.3x
   the floor; end-to-end >= 60% of the 2-core render-floor rate.

Needs PostgreSQL and Redis: BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/varco_bench, created if missing, flushed each run),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/15, flushed), BENCH_SMTP_PORT (default 8150).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/varco_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SMTP_PORT = int(os.environ.get("BENCH_SMTP_PORT", "8150"))


def _setup_django() -> None:
    os.environ["DATABASE_URL"] = DB_URL
    os.environ["REDIS_URL"] = REDIS_URL
    os.environ["VARCO_SEND_ON_ISSUE"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings"
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(DB_URL)
    with psycopg.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"],
                         password=cfg["PASSWORD"] or None, dbname="postgres",
                         autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname=%s",
                            [cfg["NAME"]]).fetchone():
            conn.execute(f'create database "{cfg["NAME"]}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


# --- 1. render ----------------------------------------------------------------------------


def floor_pdf(code: str, lines: list[str]) -> bytes:
    """The raw floor: one page, the QR code and 5 lines of text, nothing prepared."""
    import qrcode
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(code)
    qr.make(fit=True)
    canvas.drawInlineImage(qr.make_image().get_image(), 20 * mm, 150 * mm, 50 * mm, 50 * mm)
    canvas.setFont("Helvetica", 12)
    for i, line in enumerate(lines):
        canvas.drawString(20 * mm, (130 - 8 * i) * mm, line)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _designed(event) -> None:
    """The demo event as an organiser designs it: a logo (a 900x300 PNG with transparency),
    a brand colour and both languages on every ticket (its practical information is seeded)."""
    from PIL import Image, ImageDraw

    from tickets import services

    image = Image.new("RGBA", (900, 300), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, 290, 290), fill=(200, 30, 60, 255))
    draw.rectangle((320, 100, 880, 200), fill=(20, 20, 20, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    services.update_event(event, {"logo": out.getvalue(), "brand_color": "#2a7f3b",
                                  "ticket_languages": "all"})


def bench_render(count: int, rounds: int, designed: bool = False) -> dict[str, float]:
    from tickets import services
    from tickets.demo import seed_attendees, seed_event
    from tickets.documents import pdf
    from tickets.models import Ticket

    _, event, _ = seed_event()
    seed_attendees(event, count)
    if designed:
        _designed(event)
    tickets = list(Ticket.objects.filter(event=event).select_related(
        "attendee", "event", "ticket_type")[:count])
    codes = [services.ticket_code(t) for t in tickets]
    pdf.warm_up()
    floor_lines = [[event.name, "Friday 22 September 2017, 09:30-17:00", event.venue,
                    t.attendee.name, t.reference] for t in tickets]
    floor_pdf(codes[0], floor_lines[0])
    ours_ms, floor_ms, ours_cpu, floor_cpu = [], [], [], []
    for _ in range(rounds):
        start, cpu = time.perf_counter(), time.process_time()
        for ticket, code in zip(tickets, codes, strict=True):
            pdf.render_ticket_pdf(ticket, code)
        ours_ms.append((time.perf_counter() - start) * 1000 / len(tickets))
        ours_cpu.append((time.process_time() - cpu) * 1000 / len(tickets))
        start, cpu = time.perf_counter(), time.process_time()
        for code, lines in zip(codes, floor_lines, strict=True):
            floor_pdf(code, lines)
        floor_ms.append((time.perf_counter() - start) * 1000 / len(tickets))
        floor_cpu.append((time.process_time() - cpu) * 1000 / len(tickets))
    return {"ours": statistics.median(ours_ms), "floor": statistics.median(floor_ms),
            "ours_cpu": statistics.median(ours_cpu), "floor_cpu": statistics.median(floor_cpu),
            "ours_size": len(pdf.render_ticket_pdf(tickets[0], codes[0])),
            "floor_size": len(floor_pdf(codes[0], floor_lines[0]))}


# --- 2. end to end ----------------------------------------------------------------------------


class LeanSink(asyncio.Protocol):
    """A minimal SMTP server (the bench's environment, kept cheap so that the CPU measured is
    Varco's): it speaks enough SMTP for smtplib, and counts each message by its ticket header
    and checks it carries a PDF. The tests use aiosmtpd; here its per-line parsing of ~30 KB
    messages would cost as much CPU as the workers' own SMTP work."""

    count = 0
    without_pdf = 0
    tickets: ClassVar[dict[bytes, int]] = {}

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer = bytearray()
        self.in_data = False
        transport.write(b"220 bench sink\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                self._message(bytes(self.buffer[:end]))
                del self.buffer[: end + 5]
                self.in_data = False
                self.transport.write(b"250 2.0.0 OK\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            line = bytes(self.buffer[:end]).upper()
            del self.buffer[: end + 2]
            if line.startswith(b"EHLO"):
                self.transport.write(b"250-bench sink\r\n250-SIZE 33554432\r\n250 8BITMIME\r\n")
            elif line.startswith(b"DATA"):
                self.in_data = True
                self.transport.write(b"354 go ahead\r\n")
            elif line.startswith(b"QUIT"):
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                self.transport.write(b"250 OK\r\n")

    def _message(self, content: bytes) -> None:
        header = content.split(b"X-Varco-Ticket: ", 1)[-1].split(b"\r\n", 1)[0]
        LeanSink.count += 1
        LeanSink.tickets[header] = LeanSink.tickets.get(header, 0) + 1
        if b"application/pdf" not in content:
            LeanSink.without_pdf += 1


def _start_sink(port: int) -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(loop.create_server(LeanSink, "127.0.0.1", port))
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    return loop


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def bench_end_to_end(count: int) -> dict:
    import redis
    from django.conf import settings
    from django.db import connection

    from tickets.delivery import queue
    from tickets.demo import seed_attendees, seed_event
    from tickets.models import Delivery, Ticket

    redis.Redis.from_url(REDIS_URL).flushdb()
    _, event, _ = seed_event()
    started = time.perf_counter()
    have = Ticket.objects.filter(event=event).count()
    if have < count:
        seed_attendees(event, count)
    issue_s = time.perf_counter() - started
    Delivery.objects.all().delete()
    handler = LeanSink
    sink_loop = _start_sink(SMTP_PORT)
    var_dir = tempfile.mkdtemp(prefix="varco-bench-")
    env = {**os.environ, "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(SMTP_PORT),
           "VARCO_VAR_DIR": var_dir, "LOG_LEVEL": "WARNING", "DATABASE_URL": DB_URL,
           "REDIS_URL": REDIS_URL,
           # The worker's var/ is not this process's: give it the keys the events were made with.
           "SECRET_KEY": settings.SECRET_KEY,
           "VARCO_ENCRYPTION_KEYS": ",".join(settings.VARCO_ENCRYPTION_KEYS)}
    log = open(Path(var_dir) / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker", "--concurrency", "2", "--without-gossip",
         "--without-mingle"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        time.sleep(6)  # start-up (Django, fonts, beat) is not part of the throughput
        pool = _children(worker.pid)
        rss_start = {pid: _rss_kb(pid) for pid in pool}
        peak = dict(rss_start)
        samples: list[tuple[int, int]] = []
        connection.close()
        cpu_start = {pid: _cpu_seconds(pid) for pid in pool}
        own_cpu_start = time.process_time()
        load_start = os.getloadavg()[0]
        t0 = time.perf_counter()
        ids = queue.queue_unsent(event)
        queued_s = time.perf_counter() - t0
        while True:
            for pid in pool:
                peak[pid] = max(peak.get(pid, 0), _rss_kb(pid))
            samples.append((handler.count, sum(_rss_kb(pid) for pid in pool)))
            sent = Delivery.objects.filter(pk__in=ids, state="sent").count() \
                if handler.count >= len(ids) else 0
            if sent >= len(ids):
                break
            if time.perf_counter() - t0 > 900:
                raise SystemExit(f"timed out: {handler.count} of {len(ids)} received")
            time.sleep(0.5)
        elapsed = time.perf_counter() - t0
        rss_end = {pid: _rss_kb(pid) for pid in pool}
        worker_cpu = sum(_cpu_seconds(pid) - cpu_start[pid] for pid in pool)
        own_cpu = time.process_time() - own_cpu_start
        load_end = os.getloadavg()[0]
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=30)
        log.close()
        sink_loop.call_soon_threadsafe(sink_loop.stop)
    quarter = [s for s in samples if s[0] >= len(ids) * 0.25]
    return {
        "tickets": len(ids), "issue_s": issue_s, "queue_s": queued_s, "elapsed_s": elapsed,
        "rate": len(ids) / elapsed, "received": handler.count,
        "duplicates": sum(n - 1 for n in handler.tickets.values()),
        "without_pdf": handler.without_pdf, "pool": pool,
        "rss_start_mb": {p: v / 1024 for p, v in rss_start.items()},
        "rss_peak_mb": {p: v / 1024 for p, v in peak.items()},
        "rss_end_mb": {p: v / 1024 for p, v in rss_end.items()},
        "rss_at_25pct_mb": (quarter[0][1] / 1024) if quarter else None,
        "worker_cpu_ms": worker_cpu * 1000 / len(ids), "sink_cpu_ms": own_cpu * 1000 / len(ids),
        "load": (load_start, load_end),
    }


def _print_render(title: str, render: dict[str, float]) -> None:
    ours, floor = render["ours"], render["floor"]
    print(f"\n== PDF render, {title} (median of interleaved rounds) ==")
    print(f"raw floor (reportlab + qrcode, QR + 5 lines): {floor:6.2f} ms/ticket wall, "
          f"{render['floor_cpu']:6.2f} ms CPU, {render['floor_size']} bytes")
    print(f"Varco ticket PDF (documents.pdf):             {ours:6.2f} ms/ticket wall, "
          f"{render['ours_cpu']:6.2f} ms CPU, {render['ours_size']} bytes")
    ratio = ours / floor
    print(f"ratio: {ratio:.2f}x the floor (CPU: {render['ours_cpu'] / render['floor_cpu']:.2f}x)"
          f" (target <= 1.30x): {'OK' if ratio <= 1.3 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=5000, help="end-to-end batch size")
    parser.add_argument("--render", type=int, default=200, help="tickets per render round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved render rounds")
    parser.add_argument("--render-only", action="store_true", help="skip the end-to-end part")
    args = parser.parse_args()
    _setup_django()
    print(f"machine: {os.cpu_count()} cores; database {DB_URL}; broker {REDIS_URL}")

    print(f"load average before: {os.getloadavg()[0]:.2f} (other processes share the cores)")
    render = bench_render(args.render, args.rounds)
    _print_render("demo event: practical information, the attendee's language", render)
    _print_render("designed: + logo, brand colour, both languages on every ticket",
                  bench_render(args.render, args.rounds, designed=True))
    floor = render["floor"]
    if args.render_only:
        return

    e2e = bench_end_to_end(args.tickets)
    floor_rate_2 = 2 * 1000 / floor
    target = 0.6 * floor_rate_2
    print(f"\n== End to end: {e2e['tickets']} tickets, 2 worker processes, Redis, SMTP sink ==")
    print(f"issuing (registering) them beforehand: {e2e['issue_s']:.1f} s; "
          f"queueing: {e2e['queue_s']:.2f} s")
    print(f"queued -> rendered -> e-mailed: {e2e['elapsed_s']:.1f} s = "
          f"{e2e['rate']:.1f} tickets/s")
    print(f"received {e2e['received']} messages, {e2e['duplicates']} duplicates, "
          f"{e2e['without_pdf']} without a PDF")
    print(f"2-core render-floor rate: {floor_rate_2:.1f} tickets/s; target 60% = "
          f"{target:.1f} tickets/s: {'OK' if e2e['rate'] >= target else 'MISSED'} "
          f"({e2e['rate'] / floor_rate_2:.0%} of the floor rate)")
    for pid in e2e["pool"]:
        print(f"worker process {pid}: RSS start {e2e['rss_start_mb'][pid]:.0f} MB, "
              f"peak {e2e['rss_peak_mb'][pid]:.0f} MB, end {e2e['rss_end_mb'][pid]:.0f} MB")
    cpu_per_ticket = e2e["worker_cpu_ms"] + e2e["sink_cpu_ms"]
    print(f"CPU per ticket: workers {e2e['worker_cpu_ms']:.1f} ms, SMTP sink + this process "
          f"{e2e['sink_cpu_ms']:.1f} ms; load average {e2e['load'][0]:.1f} -> "
          f"{e2e['load'][1]:.1f}")
    cpu_rate = 2000 / cpu_per_ticket
    cpu_floor_rate = 2000 / render["floor_cpu"]
    print(f"rate the CPU cost allows on 2 dedicated cores: {cpu_rate:.1f} tickets/s = "
          f"{cpu_rate / cpu_floor_rate:.0%} of the 2-core floor rate by CPU "
          f"({cpu_floor_rate:.1f} tickets/s)")
    if e2e["rss_at_25pct_mb"]:
        end_total = sum(e2e["rss_end_mb"].values())
        growth = end_total - e2e["rss_at_25pct_mb"]
        print(f"pool RSS at 25% of the batch {e2e['rss_at_25pct_mb']:.0f} MB, at the end "
              f"{end_total:.0f} MB: {'flat' if abs(growth) < 10 else f'grew {growth:.0f} MB'}")


if __name__ == "__main__":
    main()
