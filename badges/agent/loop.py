"""The agent's work: reconcile what a previous run left, then claim, print and report.

The order for one job (the journal's steps in brackets, each durable before the next action):

1. claim (``claimed``), download the PDF, ``prepare`` it for the printer — a failure so far
   is reported ``failed`` (retry as the output says): nothing can have printed;
2. tell the server ``handed/`` and only after its 200 (``handed``) send to the printer;
3. the printer took it (``sent``, with the CUPS job id), then ``printed/`` (``done``).

After a crash, ``recover`` settles every open entry: ``claimed`` never reached the printer
(``failed``/retry, or ``resolve(printed=false)`` if the server already counts it handed);
``sent`` is reported printed; ``handed`` is the in-doubt window, and the output's ``lookup``
decides: the CUPS job history proves printed or not printed, and what cannot be proven
(a raw socket, a hidden or purged history) is left in doubt on the server for a person.
Jobs the server lists as in doubt with no journal entry are resolved only when the output
finds them printed. A handed job is never sent twice on a guess.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from badges.agent.client import (
    AgentError,
    Job,
    ProtocolError,
    Refused,
    StationClient,
    Unavailable,
)
from badges.agent.journal import Entry, Journal
from badges.agent.outputs import NotPrinted, Printer, Proof, Uncertain

logger = logging.getLogger("badges.agent")

BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
SETTLE_RETRIES = (5.0, 10.0, 20.0, 30.0)  # pauses before asking the printer side again


class Stopped(Exception):
    """Raised out of an interruptible wait when the agent is asked to stop."""


class Agent:
    def __init__(self, client: StationClient, printer: Printer, journal: Journal, *,
                 wait: int = 25, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.printer = printer
        self.journal = journal
        self.wait = wait
        self._sleep = sleep
        self.stopping = False
        self._interruptible = False

    # -- stopping -------------------------------------------------------------------------

    def request_stop(self) -> None:
        """From a signal handler: stop after the job in hand; at once if idle (waiting for a
        job or backing off), since an interrupted claim only returns a job to the queue."""
        self.stopping = True
        if self._interruptible:
            raise Stopped

    def _idle(self, call: Callable[[], object]) -> object:
        if self.stopping:
            raise Stopped
        self._interruptible = True
        try:
            return call()
        finally:
            self._interruptible = False

    def _pause(self, seconds: float) -> None:
        self._idle(lambda: self._sleep(seconds))

    def _until_answered(self, what: str, call: Callable[[], object]) -> object:
        """``call`` until the server answers (Refused passes through); backs off meanwhile."""
        delay = BACKOFF_START
        while True:
            try:
                return call()
            except Unavailable as error:
                logger.warning("%s: server unavailable (%s); again in %.0f s", what, error, delay)
                self._pause(delay)
                delay = min(delay * 2, BACKOFF_MAX)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        """Reconcile, then print until asked to stop."""
        try:
            self.recover()
            delay = BACKOFF_START
            while not self.stopping:
                try:
                    job = self._idle(lambda: self.client.claim(self.wait))
                except Unavailable as error:
                    logger.warning("claim: server unavailable (%s); again in %.0f s",
                                   error, delay)
                    self._pause(delay)
                    delay = min(delay * 2, BACKOFF_MAX)
                    continue
                except ProtocolError as error:
                    logger.error("claim: %s", error)
                    self._pause(BACKOFF_MAX)
                    continue
                delay = BACKOFF_START
                if job is not None:
                    assert isinstance(job, Job)
                    self.print_job(job)
        except Stopped:
            pass
        logger.info("stopped")

    def print_job(self, job: Job) -> None:
        entry = self.journal.record(Entry(job.id, job.attempt, job.claim, "claimed"), "claimed")
        logger.info("job %s attempt %s claimed: %s (gate %s%s)", job.id, job.attempt,
                    job.ticket, job.gate, ", reprint" if job.reprint else "")
        try:
            prepared = self.printer.prepare(job, self.client.badge_pdf(job))
        except NotPrinted as error:
            return self._failed(entry, error.message, error.retry)
        except ProtocolError as error:
            return self._failed(entry, error.message, retry=False)
        except (Refused, Unavailable) as error:
            # the claim is lost or the server is away: the job goes back to the queue when
            # this station claims again (or by the server's sweep); nothing was printed
            logger.warning("job %s: cannot fetch the badge: %s", job.id, error)
            return self._done(entry, "abandoned")
        try:
            self.client.handed(job.id, job.claim)
        except (Refused, Unavailable) as error:
            # perhaps the server did record it: not sent, so resolving "not printed" is true
            logger.warning("job %s: handed/ not confirmed (%s); not printing", job.id, error)
            return self._not_printed(entry, f"handed/ not confirmed: {error}", retry=True)
        entry = self.journal.record(entry, "handed")
        try:
            printer_job = self.printer.send(job, prepared)
        except NotPrinted as error:
            return self._not_printed(entry, error.message, error.retry)
        except Uncertain as error:
            logger.warning("job %s: %s; asking the printer", job.id, error)
            return self._settle(entry)
        entry = self.journal.record(entry, "sent", printer_job=printer_job)
        self._printed(entry)

    # -- outcomes -------------------------------------------------------------------------

    def _done(self, entry: Entry, outcome: str) -> None:
        self.journal.record(entry, "done", outcome=outcome)

    def _printed(self, entry: Entry) -> None:
        try:
            self._until_answered(f"job {entry.job} printed", lambda: self.client.printed(
                entry.job, entry.claim, entry.printer_job))
        except Refused as error:  # the claim is gone (the job was put in doubt): resolve
            try:
                self._until_answered(f"job {entry.job} resolve",
                                     lambda: self.client.resolve(entry.job, True))
            except Refused as again:
                logger.error("job %s printed, but the server refused both printed/ (%s) and "
                             "resolve/ (%s)", entry.job, error, again)
                return self._done(entry, "printed-unreported")
        logger.info("job %s attempt %s printed%s", entry.job, entry.attempt,
                    f" (printer job {entry.printer_job})" if entry.printer_job else "")
        self._done(entry, "printed")

    def _not_printed(self, entry: Entry, error: str, retry: bool) -> None:
        """A job that reached ``handed`` on the server but is known not to have printed."""
        try:
            self._until_answered(f"job {entry.job} failed",
                                 lambda: self.client.failed(entry.job, entry.claim, error, retry))
        except Refused:
            try:
                self._until_answered(f"job {entry.job} resolve",
                                     lambda: self.client.resolve(entry.job, False))
            except Refused as again:
                logger.info("job %s: nothing to resolve (%s)", entry.job, again)
        logger.warning("job %s attempt %s not printed: %s", entry.job, entry.attempt, error)
        self._done(entry, "not-printed")

    def _failed(self, entry: Entry, error: str, retry: bool) -> None:
        try:
            self._until_answered(f"job {entry.job} failed",
                                 lambda: self.client.failed(entry.job, entry.claim, error, retry))
        except Refused as refused:
            logger.info("job %s: failed/ refused (%s)", entry.job, refused)
        logger.warning("job %s attempt %s failed: %s", entry.job, entry.attempt, error)
        self._done(entry, "failed")

    def _settle(self, entry: Entry) -> None:
        """A ``handed`` entry whose outcome is not known: ask the printer side, a few times
        over about a minute if it cannot tell yet (a CUPS that stalls or restarts)."""
        proof = self.printer.lookup(entry.job, entry.attempt, entry.recorded_at)
        for delay in SETTLE_RETRIES if self.printer.keeps_history else ():
            if proof is not Proof.UNKNOWN:
                break
            self._pause(delay)
            proof = self.printer.lookup(entry.job, entry.attempt, entry.recorded_at)
        if proof is Proof.PRINTED:
            self._printed(self.journal.record(entry, "sent"))
        elif proof is Proof.NOT_PRINTED:
            self._not_printed(entry, "not in the printer's job history after an interruption",
                              retry=True)
        else:
            logger.warning("job %s attempt %s is in doubt: %s cannot tell whether it printed; "
                           "staff settle it on the print jobs page", entry.job, entry.attempt,
                           self.printer.describe())
            self._done(entry, "left-in-doubt")

    # -- after a crash --------------------------------------------------------------------

    def recover(self) -> None:
        entries = self.journal.open_entries()
        if entries:
            logger.info("reconciling %d unfinished job(s) from the journal", len(entries))
        for entry in entries:
            if entry.step == "claimed":
                self._not_printed(entry, "the agent restarted before printing", retry=True)
            elif entry.step == "sent":
                self._printed(entry)
            else:  # handed: the in-doubt window
                self._settle(entry)
        try:
            in_doubt = self._until_answered("in-doubt list", self.client.in_doubt)
        except (Refused, ProtocolError) as error:
            logger.error("cannot read the in-doubt list: %s", error)
            return
        assert isinstance(in_doubt, list)
        for job in in_doubt:
            if self.printer.lookup(job.id, job.attempt, None) is Proof.PRINTED:
                try:
                    self._until_answered(f"job {job.id} resolve",
                                         lambda job=job: self.client.resolve(job.id, True))
                    logger.info("job %s attempt %s found printed: resolved", job.id, job.attempt)
                except AgentError as error:
                    logger.warning("job %s: resolve refused: %s", job.id, error)
            else:
                logger.warning("job %s attempt %s stays in doubt for staff to settle",
                               job.id, job.attempt)
