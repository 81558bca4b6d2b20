"""Badge rendering: ms per badge for Varco's renderer against a raw reportlab floor, measured
in the same run (``make bench-badges``; no database needed).

Both draw the same badges onto one multi-page PDF (a bulk print) on the chosen preset: the
event's name, the attendee's name and organisation, a colour band with the ticket type, and
the lead QR as one vector path from the same QR matrices. The floor draws every string at a
fixed size in DejaVu with ``drawString`` — no measuring, no fitting, no wrapping, no script
fallback — so it is the cost of reportlab's page model and compression itself; what Varco adds
over it is the fitting of each name to its box. A second figure is one badge per PDF (a print
job on arrival), against the floor making one PDF per badge too. Each is printed as wall time
and as the process's CPU time (the steadier ratio on a machine shared with other work).

    python benchmarks/bench_badges.py [--count 500] [--rounds 5] [--preset ql-62x100]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NAMES = ["Giulia Rossi", "Maria Giovanna Bianchi-Esposito", "Francesco De Santis",
         "Anna Maria Wolfeschlegelsteinhausenbergerdorff", "Luca Ferrari", "Chiara Colombo"]
ORGS = ["Coop Il Sole", "ARCI Milano", "Fondazione Cariplo", "", "Comune di Bergamo"]


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--preset", default="ql-62x100")
    args = parser.parse_args()
    _setup_django()

    from reportlab.lib.colors import HexColor
    from reportlab.pdfgen.canvas import Canvas

    from badges import lead
    from badges.documents import badge as badges
    from badges.models import BadgeLayout
    from tickets.documents import qr
    from tickets.documents.typesetting import BOLD, REGULAR, fonts
    from tickets.models import Event

    event = Event(pk=1, name="Ma come gira questo Welfare")
    layout = BadgeLayout(event=event, name="bench", preset=args.preset, show_lead_qr=True)
    data = [badges.BadgeData(i, NAMES[i % len(NAMES)] + f" {i}", ORGS[i % len(ORGS)],
                             "Ingresso", "#1d4e89", lead.lead_code(1, i + 1))
            for i in range(args.count)]
    fonts()
    geometry = badges._geometry(badges.LayoutSpec.of(layout), False)
    width, height = geometry.preset.page

    def floor(items: list) -> bytes:
        out = io.BytesIO()
        canvas = Canvas(out, pagesize=geometry.preset.page, pageCompression=1)
        for item in items:
            canvas.setFillColor(HexColor("#5f6b7a"))
            canvas.setFont(BOLD, 10)
            canvas.drawString(10, height - 20, event.name)
            canvas.setFillColor(HexColor("#111111"))
            canvas.setFont(BOLD, 18)
            canvas.drawString(10, height / 2, item.name)
            canvas.setFont(REGULAR, 10)
            canvas.drawString(10, height / 2 - 20, item.organisation)
            canvas.addLiteral(qr.pdf_path(qr.matrix(item.lead_code), geometry.qr.x,
                                           geometry.qr.top, geometry.qr.w))
            canvas.setFillColor(HexColor(item.colour))
            canvas.rect(0, 0, width, geometry.band.h, stroke=0, fill=1)
            canvas.setFillColor(HexColor("#ffffff"))
            canvas.drawString(10, 8, item.ticket_type)
            canvas.showPage()
        canvas.save()
        return out.getvalue()

    def ours(items: list) -> bytes:
        out = io.BytesIO()
        badges.write_badges(out, layout, event, items)
        return out.getvalue()

    ours(data[:5])
    floor(data[:5])  # warm both (fonts, QR versions, caches)
    # Wall time, and the process's CPU time: on a machine shared with other work the wall
    # figure includes the time the process waited for a core; the CPU figure does not.
    keys = ("bulk", "bulk_floor", "single", "single_floor")
    results: dict[str, list[float]] = {key: [] for key in keys}
    cpu: dict[str, list[float]] = {key: [] for key in keys}
    single = data[: max(1, args.count // 5)]
    for _ in range(args.rounds):
        for key, run in (("bulk", lambda: ours(data)), ("bulk_floor", lambda: floor(data))):
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            results[key].append((time.perf_counter() - start) * 1000 / len(data))
            cpu[key].append((time.process_time() - start_cpu) * 1000 / len(data))
        for key, make in (("single", ours), ("single_floor", floor)):
            start, start_cpu = time.perf_counter(), time.process_time()
            for item in single:
                make([item])
            results[key].append((time.perf_counter() - start) * 1000 / len(single))
            cpu[key].append((time.process_time() - start_cpu) * 1000 / len(single))
    med = {key: statistics.median(values) for key, values in results.items()}
    med_cpu = {key: statistics.median(values) for key, values in cpu.items()}
    print(f"preset {args.preset}, {args.count} badges, {args.rounds} rounds (median ms/badge)")
    for kind in ("bulk", "single"):
        ratio = med[kind] / med[f"{kind}_floor"]
        ratio_cpu = med_cpu[kind] / med_cpu[f"{kind}_floor"]
        print(f"  {kind:6}  varco {med[kind]:6.2f}   floor {med[f'{kind}_floor']:6.2f}   "
              f"x{ratio:.2f}   ({1000 / med[kind]:.0f} badges/s)   CPU: varco "
              f"{med_cpu[kind]:.2f}   floor {med_cpu[f'{kind}_floor']:.2f}   x{ratio_cpu:.2f}")
    print(f"  sizes: varco bulk {len(ours(data)) // 1024} KB, floor {len(floor(data)) // 1024} KB")


if __name__ == "__main__":
    main()
