"""Where the agent's badges go: a CUPS/IPP queue (``cups``) or a Brother QL over TCP 9100
(``brother_ql``). Each output does three things, and says plainly what it knows:

- ``prepare(job, pdf)``: everything that can fail *before* the job is handed (checking that
  the layout fits the medium, rasterising): a failure here is a plain ``NotPrinted``.
- ``send(job, prepared)``: the hand-over. Returns the printer's job id (or None); raises
  ``NotPrinted`` only when nothing can have printed (no connection, a refusal, a raster
  stream cut before its final print command), ``Uncertain`` when it cannot tell.
- ``lookup(job_id, attempt, since)``: after a crash or an ``Uncertain``, what the printer side
  can prove about ``varco-<job id>-<attempt>``: ``PRINTED``, ``NOT_PRINTED`` or ``UNKNOWN``
  (then a person decides, on the server's in-doubt list: the agent never guesses).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Protocol

from badges.agent.client import AgentError, Job


class NotPrinted(AgentError):
    """Nothing of this job can have come out of the printer. ``retry``: worth another go."""

    code = "not_printed"

    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class Uncertain(AgentError):
    """The hand-over broke off where the printer may or may not have taken the job."""

    code = "uncertain"


class Proof(enum.Enum):
    PRINTED = "printed"
    NOT_PRINTED = "not_printed"
    UNKNOWN = "unknown"


def job_name(job_id: int, attempt: int) -> str:
    """The printer-side name of one attempt: the key of the lookup after a crash. It holds
    no personal data (the queue's history is readable by whoever administers the printer)."""
    return f"varco-{job_id}-{attempt}"


class Printer(Protocol):
    keeps_history: bool  # whether ``lookup`` can ever prove anything

    def describe(self) -> str: ...

    def prepare(self, job: Job, pdf: bytes) -> bytes: ...

    def send(self, job: Job, prepared: bytes) -> str | None: ...

    def lookup(self, job_id: int, attempt: int, since: datetime | None) -> Proof: ...
