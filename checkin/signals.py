"""The check-in app's declared signals: the hooks other capabilities (badge printing on
arrival, webhooks) attach to without the scan path knowing them. Receivers of this app's own
model signals are in ``checkin.receivers``."""

from django.dispatch import Signal

# Sent after the transaction that admitted an entry commits (a scan answered ``ok`` with
# direction ``entry``: live scans, offline uploads and manual check-ins, on both scan paths),
# once per admitted entry; never for rejections, exits or replays of an earlier request, and
# never from inside the scan statement. Sender: ``checkin.models.ScanLog``. Arguments:
# ``scan_log_id``, ``ticket_id``, ``list_id``, ``event_id``, ``device_id`` (None for a user's
# scan) and ``source`` (``scan``, ``offline`` or ``manual``). A receiver runs in the request
# that scanned, after the answer is decided: keep it short, or hand the work to a task.
# Caching: the scan asks ``has_listeners`` on every admitted entry, which is a dictionary
# look-up while nobody listens.
scan_admitted = Signal(use_caching=True)
