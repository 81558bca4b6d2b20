"""The Brother QL output: a real raster job over TCP to a loopback listener, decoded with
brother_ql's own analyser and checked for size (the label's dots at 300 dpi) and content
(the badge's pixels, the QR decoding to the lead code)."""

from __future__ import annotations

import pytest
import zxingcpp
from PIL import Image, ImageChops

from badges.agent.outputs import NotPrinted, Proof
from badges.agent.outputs.brother import BrotherPrinter
from tests.support.label_printer import label_printer, status_block
from tests.support.smtp_sink import free_port

pytestmark = pytest.mark.django_db

DEVICE_DOTS = 720  # a QL-8xx's print head: 90 bytes a row
RIGHT_MARGIN = 12  # the 62 mm tape's offset from the right edge, in dots


def _ink(image: Image.Image) -> Image.Image:
    """Black where the printer puts ink (the same threshold brother_ql applies)."""
    return image.convert("L").point(lambda v: 255 if v < 179 else 0, mode="1")


def _count(image: Image.Image) -> int:
    """Set pixels of a 1-bit image."""
    return image.histogram()[-1]


def _qr(page: Image.Image) -> list[str]:
    # the analyser's page is mirror-free; give the decoder a quiet zone around the label
    framed = Image.new("L", (page.width + 80, page.height + 80), 255)
    framed.paste(page.convert("L"), (40, 40))
    return [r.text for r in zxingcpp.read_barcodes(framed)
            if r.format == zxingcpp.BarcodeFormat.QRCode]


@pytest.mark.parametrize(("preset", "label", "rows"), [
    ("ql-62", "62", round(90 / 25.4 * 300)),   # continuous roll, cut at the badge's 90 mm
    ("ql-62x100", "62x100", 1109),            # die-cut 62 x 100: its printable dots
])
def test_a_badge_arrives_as_raster_the_printer_prints(make_badge, preset, label, rows):
    badge = make_badge(preset)
    with label_printer(reply=status_block(status_type=0x01)) as listener:
        printer = BrotherPrinter("127.0.0.1", listener.port, "QL-820NWB", label,
                                 status_timeout=1)
        job = badge.job()
        prepared = printer.prepare(job, badge.pdf)
        assert printer.send(job, prepared) is None
        expected = _ink(printer.image(job, badge.pdf))
    [received] = listener.jobs
    assert received == prepared
    [page] = listener.pages(received)
    assert page.size[0] == DEVICE_DOTS and abs(page.size[1] - rows) <= 1, page.size
    # the badge's own pixels, where the label's printable area sits on the print head
    left = DEVICE_DOTS - expected.width - RIGHT_MARGIN
    printed = _ink(page).crop((left, 0, left + expected.width, expected.height))
    area = expected.width * expected.height
    assert _count(ImageChops.logical_xor(printed, expected)) / area < 0.001
    assert _count(expected) / area > 0.02  # not a blank label
    # outside the printable area nothing is printed
    assert page.convert("L").crop((0, 0, left, page.height)).getextrema()[0] == 255
    codes = _qr(page)
    assert codes == [badge.lead_code] and badge.entry_code not in codes


def test_a_layout_that_does_not_fit_the_label_is_refused_before_printing(make_badge):
    badge = make_badge("a6")
    printer = BrotherPrinter("127.0.0.1", 9, "QL-820NWB", "62")
    with pytest.raises(NotPrinted) as refused:
        printer.prepare(badge.job(), badge.pdf)
    assert not refused.value.retry
    assert "does not fit the 62 mm roll label 62" in refused.value.message
    roll_badge = make_badge("ql-62")  # 90 mm long: not a 100 mm die-cut label
    die_cut = BrotherPrinter("127.0.0.1", 9, "QL-820NWB", "62x100")
    with pytest.raises(NotPrinted, match="62 mm x 100 mm label 62x100"):
        die_cut.prepare(roll_badge.job(), roll_badge.pdf)


def test_no_printer_listening_is_not_printed_and_retried(make_badge):
    badge = make_badge()
    printer = BrotherPrinter("127.0.0.1", free_port(), "QL-820NWB", "62", connect_timeout=2)
    job = badge.job()
    with pytest.raises(NotPrinted) as refused:
        printer.send(job, printer.prepare(job, badge.pdf))
    assert refused.value.retry
    assert printer.lookup(job.id, job.attempt, None) is Proof.UNKNOWN


def test_the_printers_error_status_fails_the_job_with_its_words(make_badge):
    badge = make_badge()
    no_media = status_block(error_1=0x01, status_type=0x02)
    with label_printer(reply=no_media) as listener:
        printer = BrotherPrinter("127.0.0.1", listener.port, "QL-820NWB", "62",
                                 status_timeout=2)
        job = badge.job()
        with pytest.raises(NotPrinted) as failed:
            printer.send(job, printer.prepare(job, badge.pdf))
    assert "No media when printing" in failed.value.message and not failed.value.retry
    assert listener.connections == 1


def test_unknown_models_and_labels_are_named():
    with pytest.raises(ValueError, match="unknown Brother QL model 'QL-9999'"):
        BrotherPrinter("127.0.0.1", 9100, "QL-9999", "62")
    with pytest.raises(ValueError, match="unknown Brother QL label '61'"):
        BrotherPrinter("127.0.0.1", 9100, "QL-820NWB", "61")
