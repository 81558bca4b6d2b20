"""``GET /metrics``: the operators' Prometheus metrics of this host (docs/shared-state.md).

What the processes counted (core/metrics.py: scans by result and reason, the scan's latency
histogram, requests over 1 s, live streams open; under gunicorn summed over the host's
workers from ``PROMETHEUS_MULTIPROC_DIR``), plus what is read from the database at scrape
time: the delivery backlog by state with the age of its oldest row, and the database's
connections by client host and state (the pool's use, per web/worker host, on PostgreSQL).
The database figures are the same from every host: a dashboard takes them from one.

Who may read it: a superuser (session, or an organiser API token of one), or a scraper with
``Authorization: Bearer <VARCO_METRICS_TOKEN>`` when that setting is set. Everyone else gets
401/403 with the one error body. The figures span every organiser, hence superusers only.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from core.errors import error_body
from tickets.auth import hash_token
from tickets.models import ApiToken
from tickets.selectors import delivery_backlog

log = logging.getLogger(__name__)


class DatabaseCollector:
    """Read at each scrape; a database that does not answer leaves these out (and says so in
    ``varco_metrics_database_up``) instead of failing the scrape."""

    def collect(self):
        up = GaugeMetricFamily("varco_metrics_database_up",
                               "1 if the database answered this scrape's queries.")
        try:
            families = list(self._families())
        except DatabaseError as exc:
            log.warning("metrics: database figures unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self):
        backlog = delivery_backlog()
        now = timezone.now()
        depth = GaugeMetricFamily(
            "varco_deliveries", "Ticket e-mails not sent, by state (queued and in_doubt wait "
            "for a worker, sending is claimed, failed gave up).", labels=["state"])
        oldest = GaugeMetricFamily(
            "varco_delivery_oldest_seconds", "Age of the oldest delivery in each state, from "
            "when it was queued (0 when there is none).", labels=["state"])
        for state, (count, queued_at) in backlog.items():
            depth.add_metric([state], count)
            oldest.add_metric([state], (now - queued_at).total_seconds() if queued_at else 0)
        yield depth
        yield oldest
        if connection.vendor == "postgresql":
            pool = GaugeMetricFamily(
                "varco_db_connections", "Server connections to this database by client host "
                "and state (active, idle, idle in transaction), from pg_stat_activity.",
                labels=["client", "state"])
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT coalesce(host(client_addr), 'local'), coalesce(state, ''), count(*)"
                    " FROM pg_stat_activity WHERE datname = current_database()"
                    " AND backend_type = 'client backend' GROUP BY 1, 2")
                for client, state, count in cursor.fetchall():
                    pool.add_metric([client, state], count)
            yield pool


def _process_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _refusal(request: HttpRequest) -> JsonResponse | None:
    scheme, _, credential = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    scheme, credential = scheme.lower(), credential.strip()
    expected = settings.VARCO_METRICS_TOKEN
    if scheme == "bearer" and expected and credential and hmac.compare_digest(
            credential.encode(), expected.encode()):
        return None
    user = request.user
    if scheme == "token" and credential:
        record = ApiToken.objects.select_related("user").filter(
            token_hash=hash_token(credential)).first()
        user = record.user if record is not None and record.user.is_active else None
    elif scheme:
        user = None  # a scheme we do not take, or a wrong bearer token
    if user is None or not user.is_authenticated:
        response = JsonResponse(error_body(
            "not_authenticated", "Sign in as a superuser, or send the metrics token "
            "(Authorization: Bearer …) or a superuser's API token."), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not user.is_superuser:
        return JsonResponse(error_body(
            "permission_denied", "The metrics span every organiser: superusers only."),
            status=403)
    return None


def metrics(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return JsonResponse(error_body("method_not_allowed", "Use GET."), status=405,
                            headers={"Allow": "GET, HEAD"})
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    started = time.perf_counter()
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    body = generate_latest(_process_registry()) + generate_latest(database)
    elapsed = time.perf_counter() - started
    body += (b"# HELP varco_metrics_scrape_seconds Time this scrape took to collect.\n"
             b"# TYPE varco_metrics_scrape_seconds gauge\n"
             + f"varco_metrics_scrape_seconds {elapsed:.6f}\n".encode())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})
