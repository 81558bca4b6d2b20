"""A CUPS (or any IPP) queue: the badge PDF as one IPP Print-Job named ``varco-<id>-<attempt>``.

The IPP client is ``ipptool`` (Debian's ``cups-ipp-utils``; OpenPrinting's own IPP tool, the
same code as libcups), driven with the two request files in ``badges/agent/ipp/`` and read
back as an XML property list (``-X``, parsed by the standard library's ``plistlib``). Chosen
over the alternatives because:

- ``pycups`` (the libcups binding) has no wheels: every install compiles it against
  ``libcups2-dev`` with a C compiler, on the Raspberry Pi next to the printer as well;
- ``lp``/``lpstat`` (``cups-client``) can submit with a job name (``lp -t``) but no ``lpstat``
  listing shows the job names of finished jobs, which the in-doubt lookup needs;
- the pure-Python IPP clients on PyPI are asynchronous status readers (``pyipp``/``aioipp``,
  made for Home Assistant) or unmaintained (``pkipplib``, 2009).

``ipptool`` speaks IPP to CUPS and to IPP Everywhere printers alike, with a timeout (``-T``).

**The in-doubt lookup** asks for the queue's jobs, finished ones included (``which-jobs=all``),
and looks for the attempt's job name. CUPS shows a job's name only to its owner (the default
``JobPrivateValues``; for an unauthenticated request the owner is the ``requesting-user-name``),
so the agent submits and looks up under one name (``--cups-user``); a job whose name is hidden
makes the answer ``UNKNOWN``, never ``NOT_PRINTED`` (docs/badges.md, "Print agent"). A job found
is ``PRINTED`` unless it was cancelled or aborted before printing a page. No job found is
``NOT_PRINTED`` only if the journal says when the attempt was handed and the history reaches
back before then (an older job is still listed, or the history is empty: CUPS keeps finished
jobs with its default ``PreserveJobHistory Yes``); otherwise ``UNKNOWN`` (a purged history).
"""

from __future__ import annotations

import logging
import plistlib
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from badges.agent.client import Job
from badges.agent.outputs import NotPrinted, Proof, Uncertain, job_name

logger = logging.getLogger("badges.agent")

REQUESTS = Path(__file__).resolve().parent.parent / "ipp"
IPPTOOL = "ipptool"
CANCELLED, ABORTED = 7, 8  # IPP job-state values (RFC 8011 5.3.7)


def media_keyword(width_mm: float, height_mm: float) -> str:
    """A PWG 5101.1 self-describing media name for the badge's page (CUPS maps it to the
    queue's custom size): ``custom_varco-badge_90x62mm``."""
    def mm(value: float) -> str:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"custom_varco-badge_{mm(width_mm)}x{mm(height_mm)}mm"


class CupsPrinter:
    keeps_history = True

    def __init__(self, server: str, queue: str, *, requester: str = "varco-agent",
                 timeout: float = 30.0, ipptool: str = IPPTOOL) -> None:
        if not queue or "/" in queue:
            raise ValueError(f"not a CUPS queue name: {queue!r}")
        self.uri = f"ipp://{server}/printers/{quote(queue)}"
        self.requester = requester
        self.timeout = timeout
        self.ipptool = ipptool

    def describe(self) -> str:
        return f"CUPS queue {self.uri}"

    def _run(self, request: str, variables: dict[str, str], document: Path | None = None
             ) -> dict[str, Any]:
        """One IPP request through ipptool; its test record (``Tests[0]``) from the plist."""
        argv = [self.ipptool, "-X", "-T", str(int(self.timeout))]
        if document is not None:
            argv += ["-f", str(document)]
        for name, value in variables.items():
            argv += ["-d", f"{name}={value}"]
        argv += [self.uri, str(REQUESTS / request)]
        try:
            done = subprocess.run(argv, capture_output=True, timeout=self.timeout * 3 + 10,
                                  check=False)
        except FileNotFoundError as error:
            raise NotPrinted(f"{self.ipptool} is not installed (Debian: cups-ipp-utils)",
                             retry=False) from error
        except subprocess.TimeoutExpired as error:
            raise Uncertain(f"ipptool did not finish in {self.timeout * 3 + 10:.0f} s") from error
        try:
            answer = plistlib.loads(done.stdout)
        except Exception as error:  # plistlib raises several types on a cut document
            raise Uncertain(f"ipptool: unreadable answer ({done.stderr[-300:]!r})") from error
        tests = answer.get("Tests") or []
        if not tests:  # no request went out: ipptool could not connect
            message = answer.get("ErrorMessage") or done.stderr.decode(errors="replace")[-300:]
            raise ConnectionError(str(message).strip())
        return tests[0]

    def prepare(self, job: Job, pdf: bytes) -> bytes:
        return pdf  # CUPS takes the PDF itself; its filters fit it to the queue's printer

    def send(self, job: Job, prepared: bytes) -> str | None:
        name = job_name(job.id, job.attempt)
        with tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".pdf") as document:
            document.write(prepared)
            document.flush()
            try:
                record = self._run("print-job.test", {
                    "job_name": name, "requester": self.requester,
                    "media": media_keyword(job.width_mm, job.height_mm)}, Path(document.name))
            except ConnectionError as error:  # refused before any byte of the request left
                raise NotPrinted(f"{self.describe()}: {error}", retry=True) from error
        status = str(record.get("StatusCode", ""))
        job_id = _merged(record.get("ResponseAttributes")).get("job-id")
        if record.get("Successful") is True and job_id is not None:
            return str(job_id)
        if status.startswith(("client-error", "server-error")):
            detail = _merged(record.get("ResponseAttributes")).get("status-message", "")
            # a client error (no such queue, format refused) will not pass on a retry
            raise NotPrinted(f"{self.describe()}: {status} {detail}".strip(),
                             retry=status.startswith("server-error"))
        raise Uncertain(f"{self.describe()}: no IPP status ({record.get('Errors')})")

    def lookup(self, job_id: int, attempt: int, since: datetime | None) -> Proof:
        name = job_name(job_id, attempt)
        try:
            record = self._run("get-jobs.test", {"requester": self.requester})
        except (ConnectionError, Uncertain, NotPrinted) as error:
            logger.warning("cannot read the job history of %s: %s", self.describe(), error)
            return Proof.UNKNOWN
        # ipptool reports a timed-out request as "successful-ok" with no attributes and
        # Successful false: only a complete answer proves anything
        if record.get("Successful") is not True or not str(
                record.get("StatusCode", "")).startswith("successful-ok"):
            logger.warning("%s did not answer Get-Jobs: %s %s", self.describe(),
                           record.get("StatusCode"), record.get("Errors"))
            return Proof.UNKNOWN
        jobs = [group for group in (record.get("ResponseAttributes") or [])[1:]
                if "job-id" in group]
        if any("job-name" not in group for group in jobs):
            logger.warning(
                "%s hides job names from %r (CUPS JobPrivateValues): job %s stays in doubt. "
                "Use the --cups-user that submitted it, or a policy that shows job names "
                "(docs/badges.md, Print agent).", self.describe(), self.requester, name)
            return Proof.UNKNOWN
        found = [group for group in jobs if group.get("job-name") == name]
        if found:
            if all(g.get("job-state") in (CANCELLED, ABORTED)
                   and not g.get("job-impressions-completed") for g in found):
                return Proof.NOT_PRINTED
            return Proof.PRINTED
        if since is None:  # no journal entry says when it was handed: nothing to compare
            return Proof.UNKNOWN
        if jobs:
            oldest = min(int(g.get("time-at-creation") or 0) for g in jobs)
            if oldest > since.timestamp():
                logger.warning("%s's job history starts after job %s was handed: it may have "
                               "been purged; the job stays in doubt", self.describe(), name)
                return Proof.UNKNOWN
        return Proof.NOT_PRINTED


def _merged(groups: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for group in groups or []:
        if isinstance(group, dict):
            merged.update(group)
    return merged
