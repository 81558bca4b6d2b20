"""A revoked device stops scanning on every process at once (Redis pub/sub), not after the
cache's TTL (checkin/devices.py): two real gunicorn workers, a TTL of ten minutes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest
from django.db import connection

from checkin import services as checkin_services
from checkin.models import Device
from tests.support.checkin import make_device, make_list
from tests.support.web_process import clean_env, gunicorn
from tests.support.worker_process import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _scan(base: str, token: str, list_id: int) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1/checkin/scan/", method="POST",
        data=json.dumps({"code": "GARBAGE", "list": list_id,
                         "nonce": str(uuid.uuid4())}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_revocation_reaches_every_worker_long_before_the_ttl(event, tmp_path):
    door_list = make_list(event)
    device, token = make_device(event, [door_list])
    db = connection.settings_dict
    url = (f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}"
           f":{db['PORT'] or 5432}/{db['NAME']}")
    env = clean_env(GUNICORN_WORKERS="2", GUNICORN_THREADS="4", DATABASE_URL=url,
                    VARCO_DEVICE_CACHE_SECONDS="600", VARCO_SCAN_INVALID_RATE="0")
    with gunicorn(tmp_path, env) as server:
        # New connections each time: both workers load (and cache) the device.
        assert [_scan(server.base, token, door_list.pk) for _ in range(8)] == [200] * 8
        checkin_services.revoke_device(Device.objects.get(pk=device.pk))
        assert wait_until(lambda: _scan(server.base, token, door_list.pk) == 401, timeout=5)
        assert [_scan(server.base, token, door_list.pk) for _ in range(8)] == [401] * 8
