"""python manage.py print_badges: the same selection and order as the API, into a file."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tests.support.ticket_files import pdf_page_count, pdf_text

pytestmark = pytest.mark.django_db


def test_prints_the_selection_into_the_file(event, crowd, tmp_path):
    out = tmp_path / "badges.pdf"
    stdout = io.StringIO()
    call_command("print_badges", "--event", event.slug, "--out", str(out), "--sort", "surname",
                 "--checked-in", "no", stdout=stdout)
    assert pdf_page_count(out.read_bytes()) == 4
    text = pdf_text(out.read_bytes())
    assert "Bruno Conti" not in text
    assert text.index("zoe Adams") < text.index("carla bianchi") < text.index("Zamora")
    assert stdout.getvalue().startswith("4 badges (a6) written to ")


def test_progress_is_reported_for_every_badge(event, crowd, tmp_path, monkeypatch):
    from badges.management.commands import print_badges

    seen = []

    class RecordingBar:
        def __init__(self, total, **kwargs):
            seen.append(("total", total))
            self.n = 0

        def update(self, step):
            self.n += step
            seen.append(self.n)

        def close(self):
            seen.append("closed")

    monkeypatch.setattr(print_badges, "tqdm", RecordingBar)
    call_command("print_badges", "--event", event.slug, "--out", str(tmp_path / "b.pdf"),
                 "--organisation", "arci milano", stdout=io.StringIO())
    assert seen == [("total", 2), 1, 2, "closed"]


@pytest.mark.parametrize(("args", "message"), [
    (["--event", "nope"], "No event"),
    (["--layout", "abc"], "--layout"),
    (["--ticket-type", "424242"], "--ticket-type"),
])
def test_bad_arguments_are_command_errors(event, tmp_path, args, message):
    base = {"--event": event.slug, "--out": str(tmp_path / "x.pdf")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = [item for pair in base.items() for item in pair]
    with pytest.raises(CommandError, match=message):
        call_command("print_badges", *argv, stdout=io.StringIO())


def test_an_unwritable_file_is_a_command_error(event, crowd, tmp_path):
    with pytest.raises(CommandError, match="--out"):
        call_command("print_badges", "--event", event.slug, "--out",
                     str(tmp_path / "missing" / "b.pdf"), stdout=io.StringIO())
