"""Receivers: an admitted entry queues its badge; a revoked ticket's badges are cancelled.

Connected by ``BadgesConfig.ready``. The scan's receiver runs in the scan's request after its
commit (``checkin.signals.scan_admitted`` is sent with ``send``, not ``send_robust``): it must
never raise into the scan, so every exception is logged here and swallowed; the admission is
committed and answered whatever happens to the badge. The badge's statement itself runs off
the request's path (``handover``).
"""

from __future__ import annotations

import logging

from badges.jobs import handover, queue
from checkin.models import ScanLog
from checkin.signals import scan_admitted
from tickets.models import Ticket
from tickets.signals import ticket_revoked

log = logging.getLogger(__name__)


def on_scan_admitted(sender, *, scan_log_id: int, ticket_id: int, list_id: int,
                     event_id: int, device_id: int | None, source: str, **kwargs) -> None:
    try:
        handover.admitted(scan_log_id=scan_log_id, ticket_id=ticket_id, list_id=list_id,
                          event_id=event_id, device_id=device_id)
    except Exception:
        log.exception("badge of ticket %s (scan %s) not queued", ticket_id, scan_log_id)


def on_ticket_revoked(sender, *, ticket: Ticket, **kwargs) -> None:
    cancelled = queue.cancel_for_ticket(ticket.pk)
    if cancelled:
        log.info("%s badge(s) of revoked ticket %s cancelled", cancelled, ticket.pk)


SCAN_UID = "badges.queue_badge_on_admission"


def connect() -> None:
    """Idempotent (a dispatch_uid per signal)."""
    scan_admitted.connect(on_scan_admitted, sender=ScanLog, dispatch_uid=SCAN_UID)
    ticket_revoked.connect(on_ticket_revoked, sender=Ticket,
                           dispatch_uid="badges.cancel_badges_on_revoke")
