"""The CUPS output against a real cupsd with a cups-pdf virtual printer (tests/support/cups_server):
the printed PDF is read back (page size, name, QR), and the in-doubt lookup finds, misses and
refuses to guess as it should.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta

import pypdfium2 as pdfium
import pytest

from badges.agent.outputs import NotPrinted, Proof, Uncertain
from badges.agent.outputs.cups import CupsPrinter, media_keyword
from tests.support.cups_server import cups_server
from tests.support.smtp_sink import free_port
from tests.support.ticket_files import pdf_page_count, pdf_qr_codes, pdf_text

pytestmark = [pytest.mark.django_db, pytest.mark.cups]

PT_PER_MM = 72 / 25.4


def _page_size_mm(pdf: bytes) -> tuple[float, float]:
    document = pdfium.PdfDocument(pdf)
    try:
        width, height = document[0].get_size()
    finally:
        document.close()
    return width / PT_PER_MM, height / PT_PER_MM


@pytest.mark.parametrize("preset", ["ql-62", "a6"])
def test_a_badge_prints_on_the_queue_whole_and_with_the_lead_code(make_badge, preset):
    badge = make_badge(preset)
    with cups_server() as cups:
        printer = CupsPrinter(cups.address, cups.queue)
        job = badge.job(job_id=41, attempt=2)
        printer_job = printer.send(job, printer.prepare(job, badge.pdf))
        jobs = cups.wait_finished(1)
        assert printer_job == str(jobs[0]["job-id"])
        assert jobs[0]["job-name"] == "varco-41-2"
        assert jobs[0]["job-state"] == 9, cups.log()[-2000:]
        [output] = cups.printed()
        printed = output.read_bytes()

    assert pdf_page_count(printed) == 1
    width, height = _page_size_mm(printed)
    # the page cups-pdf made is the badge's medium: the media keyword reached the filters
    assert abs(width - badge.width_mm) < 1 and abs(height - badge.height_mm) < 1, (width, height)
    text = pdf_text(printed)
    assert badge.name in text and "Coop Il Sole" in text
    codes = pdf_qr_codes(printed, scale=4)
    assert codes == [badge.lead_code]
    assert badge.entry_code not in codes


def test_the_lookup_proves_printed_and_not_printed(make_badge):
    badge = make_badge()
    before = datetime.now(UTC) - timedelta(seconds=5)
    with cups_server() as cups:
        printer = CupsPrinter(cups.address, cups.queue)
        # an empty history with a known hand-over time: the job never reached CUPS
        assert printer.lookup(5, 1, before) is Proof.NOT_PRINTED
        job = badge.job(job_id=5, attempt=1)
        printer.send(job, badge.pdf)
        cups.wait_finished(1)
        assert printer.lookup(5, 1, before) is Proof.PRINTED
        assert printer.lookup(5, 1, None) is Proof.PRINTED
        # another attempt of the same job, handed after the history's first job
        assert printer.lookup(5, 2, datetime.now(UTC)) is Proof.NOT_PRINTED
        # a hand-over older than the whole history: the job may have been purged
        assert printer.lookup(5, 2, before - timedelta(days=1)) is Proof.UNKNOWN
        # no journal time to compare with: not found proves nothing
        assert printer.lookup(5, 2, None) is Proof.UNKNOWN


def test_hidden_job_names_leave_the_job_in_doubt(make_badge):
    """CUPS's default policy shows a job's name to its owner only: an agent looking up under
    another user name (a changed --cups-user) sees nameless jobs and proves nothing."""
    badge = make_badge()
    before = datetime.now(UTC) - timedelta(seconds=5)
    with cups_server() as cups:
        CupsPrinter(cups.address, cups.queue).send(badge.job(job_id=9), badge.pdf)
        cups.wait_finished(1)
        stranger = CupsPrinter(cups.address, cups.queue, requester="someone-else")
        assert "job-name" not in cups.jobs(requester="someone-else")[0]
        assert stranger.lookup(9, 1, before) is Proof.UNKNOWN
        assert stranger.lookup(10, 1, before) is Proof.UNKNOWN


def test_refusals_are_not_printed_and_say_whether_to_retry(make_badge):
    badge = make_badge()
    with cups_server() as cups:
        missing = CupsPrinter(cups.address, "no-such-queue")
        with pytest.raises(NotPrinted) as refused:
            missing.send(badge.job(), badge.pdf)
        assert not refused.value.retry and "not-found" in refused.value.message
        assert cups.jobs() == []
    closed = CupsPrinter(f"127.0.0.1:{free_port()}", "badges", timeout=3)
    with pytest.raises(NotPrinted) as unreachable:
        closed.send(badge.job(), badge.pdf)
    assert unreachable.value.retry
    assert closed.lookup(7, 1, datetime.now(UTC)) is Proof.UNKNOWN


def test_media_keyword_names_the_badge_size():
    assert media_keyword(90, 62) == "custom_varco-badge_90x62mm"
    assert media_keyword(104.99, 148) == "custom_varco-badge_104.99x148mm"


def test_a_stalled_server_is_uncertain_until_its_history_answers(make_badge):
    """A cupsd that stops answering after taking the request: the send is Uncertain (never
    "not printed"), the lookup UNKNOWN while it stalls, PRINTED once it has printed."""
    badge = make_badge()
    before = datetime.now(UTC) - timedelta(seconds=5)
    with cups_server() as cups:
        printer = CupsPrinter(cups.address, cups.queue, timeout=2)
        os.kill(cups.process.pid, signal.SIGSTOP)
        try:
            with pytest.raises(Uncertain):
                printer.send(badge.job(job_id=12), badge.pdf)
            assert printer.lookup(12, 1, before) is Proof.UNKNOWN
        finally:
            os.kill(cups.process.pid, signal.SIGCONT)
        cups.wait_finished(1)
        assert printer.lookup(12, 1, before) is Proof.PRINTED
