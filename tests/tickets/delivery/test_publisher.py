"""A registration's e-mail task is published in a batch by a thread of the process
(tickets/delivery/publisher.py): every id exactly once, the ones that arrive together in one
task, nothing lost at a normal exit, at once in eager mode; on Redis, the tasks in the broker
name every queued delivery once."""

from __future__ import annotations

import json
import os
import threading
from base64 import b64decode

import pytest
import redis

from backend.celery import app
from tests.support.factories import make_event
from tests.support.worker_process import wait_until
from tickets.delivery import queue
from tickets.delivery.publisher import BatchPublisher
from tickets.models import Delivery, TicketType


class Recorder:
    """Records each publish; the first one waits until released, so the ids submitted
    meanwhile are all pending together when the thread comes back (no timing involved)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.done = threading.Condition()

    def __call__(self, ids: list[int]) -> None:
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(30)
        with self.done:
            self.calls.append((list(ids), threading.current_thread().name))
            self.done.notify_all()

    def wait_for(self, count: int) -> None:
        with self.done:
            assert self.done.wait_for(lambda: sum(len(c[0]) for c in self.calls) >= count, 30)


@pytest.fixture
def not_eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    settings.VARCO_DELIVERY_PUBLISH_LINGER_MS = 1
    yield
    app.conf.task_always_eager = True


def test_ids_submitted_together_are_published_once_in_one_task_by_the_thread(not_eager):
    recorder = Recorder()
    publisher = BatchPublisher(recorder)
    publisher.submit([1])  # the thread takes it and is held in the first publish
    assert recorder.entered.wait(30)
    threads = [threading.Thread(target=publisher.submit, args=([n],)) for n in range(2, 42)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.release.set()
    recorder.wait_for(41)
    published = [i for ids, _ in recorder.calls for i in ids]
    assert sorted(published) == list(range(1, 42))  # each once
    assert [sorted(ids) for ids, _ in recorder.calls] == [[1], list(range(2, 42))]
    assert {name for _, name in recorder.calls} == {"varco-publisher"}  # never the request


def test_flush_publishes_what_is_pending_in_the_callers_thread(not_eager, settings):
    settings.VARCO_DELIVERY_PUBLISH_LINGER_MS = 60_000  # the thread would wait a minute
    calls = []
    publisher = BatchPublisher(lambda ids: calls.append((list(ids),
                                                        threading.current_thread().name)))
    publisher.submit([7, 8])
    publisher.submit([9])
    publisher.flush()
    assert calls == [([7, 8, 9], threading.current_thread().name)]
    publisher.flush()  # nothing left: nothing published twice
    assert len(calls) == 1


@pytest.mark.parametrize("eager, linger", [(True, 50), (False, 0)])
def test_eager_mode_or_no_linger_publishes_at_once_in_the_request(settings, eager, linger):
    settings.VARCO_DELIVERY_PUBLISH_LINGER_MS = linger
    app.conf.task_always_eager = eager
    try:
        calls = []
        BatchPublisher(lambda ids: calls.append((ids, threading.current_thread().name))).submit(
            [5])
        assert calls == [([5], threading.current_thread().name)]
    finally:
        app.conf.task_always_eager = True


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_registrations_tasks_in_redis_name_each_delivery_once(not_eager, client, organiser):
    """The public registration on PostgreSQL + Redis: the tasks in the broker (no worker
    here) name every queued delivery exactly once, in fewer tasks than registrations."""
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    broker.delete("deliveries")
    event = make_event(organiser, slug="batched")
    TicketType.objects.create(event=event, name="Ingresso")
    url = f"/api/v1/public/events/{event.slug}/register/"
    submitted = threading.Event()
    # Hold the thread in its first publish so the other registrations gather behind it.
    held = queue._batched._publish
    queue._batched._publish = lambda ids: (submitted.wait(30), held(ids))
    try:
        for i in range(20):
            answer = client.post(url, {"name": f"Persona {i}", "email": f"p{i}@example.org"},
                                 content_type="application/json")
            assert answer.status_code == 201, answer.content
        submitted.set()
        queue.flush_pending()
        ids = sorted(Delivery.objects.filter(ticket__event=event).values_list("pk", flat=True))
        assert len(ids) == 20

        def published() -> list[int]:
            return [i for raw in broker.lrange("deliveries", 0, -1)
                    for i in json.loads(b64decode(json.loads(raw)["body"]))[0][0]]

        assert wait_until(lambda: len(published()) >= 20, timeout=30)
        assert sorted(published()) == ids  # each delivery once
        assert broker.llen("deliveries") < 20  # batched
    finally:
        queue._batched._publish = held
        broker.delete("deliveries")
