"""The invalid-scan batch writer on several hosts at once (checkin/scanning/invalid_log.py):
three processes buffer and flush, in their background threads and at exit, the invalid scans a
device sent to all of them (its retries landing on every host behind the balancer) and their
own: every scan logged once, the retries not twice."""

from __future__ import annotations

import pytest

from checkin.models import ScanLog
from tests.support.checkin import make_device, make_list
from tests.support.many_processes import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITER = """
import datetime as dt, uuid
from checkin.scanning import invalid_log
host = uuid.uuid4().hex[:8]
now = dt.datetime.now(dt.UTC)
common = dict(event_id=int(os.environ["EVENT"]), list_id=int(os.environ["LIST"]),
              device_id=int(os.environ["DEVICE"]), direction="entry", source="scan",
              request_key=None, scanned_at=now, received_at=now, untrusted_scanned_at=None)
for index in range(400):
    invalid_log.record(nonce=f"retried-{index}", **common)  # the same on every host
    invalid_log.record(nonce=f"{host}-{index}", **common)   # this host's own
    if index % 50 == 0:
        time.sleep(0.05)  # let the background flush run mid-stream
print(json.dumps(host))
"""


def test_three_hosts_log_each_invalid_scan_once(event, tmp_path):
    door_list = make_list(event)
    device, _ = make_device(event, [door_list])

    hosts = run_at_once(WRITER, 3, tmp_path, EVENT=str(event.pk), LIST=str(door_list.pk),
                        DEVICE=str(device.pk), VARCO_INVALID_SCAN_FLUSH_SECONDS="0.05")

    logged = ScanLog.objects.filter(device=device, reason="invalid")
    assert logged.filter(nonce__startswith="retried-").count() == 400
    for host in hosts:  # flushed in the background and at exit: nothing left behind
        assert logged.filter(nonce__startswith=f"{host}-").count() == 400
    assert logged.count() == 400 * 4
