"""Each web host's own ``GET /metrics`` (Prometheus text, read with prometheus_client's parser),
as an operator's scraper reads it: whether a host serves scans again after a restart, and
whether any scan request stalled."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

STALLED_SECONDS = "5.0"  # the scan histogram's last finite bucket (core/metrics.py)


@dataclass
class HostFigures:
    scans: float = 0.0  # scans answered (any status)
    slow: float = 0.0  # scan requests over 1 s (varco_slow_requests{kind="scan"})
    stalled: float = 0.0  # scan requests over 5 s

    def __add__(self, other: HostFigures) -> HostFigures:
        return HostFigures(self.scans + other.scans, self.slow + other.slow,
                           self.stalled + other.stalled)


def scrape(base: str, token: str) -> HostFigures | None:
    """The host's figures, or None if it does not answer."""
    request = urllib.request.Request(f"{base}/metrics",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            text = response.read().decode()
    except OSError:
        return None
    figures = HostFigures()
    count = under = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "varco_scans_total":
                figures.scans += sample.value
            elif sample.name == "varco_slow_requests_total" and sample.labels.get("kind") == "scan":
                figures.slow += sample.value
            elif sample.name == "varco_scan_seconds_count":
                count += sample.value
            elif sample.name == "varco_scan_seconds_bucket" \
                    and sample.labels.get("le") == STALLED_SECONDS:
                under += sample.value
    figures.stalled = count - under
    return figures
