"""The ticket e-mail's MIME as the SMTP server receives it (issue 13, item 11): the calendar
part's Content-Type names its charset once, and the English text starts its sentence with a
capital letter after the greeting."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def received(register, smtp_sink, django_capture_on_commit_callbacks):
    def _received(language: str):
        with django_capture_on_commit_callbacks(execute=True):
            register(name="John Smith", email=f"john-{language}@example.org", language=language)
        return smtp_sink.messages[-1]

    return _received


def _part_headers(raw: bytes, filename: str) -> str:
    """The raw, unfolded header block of the MIME part carrying ``filename``."""
    text = raw.decode("utf-8", "replace")  # 8bit text parts may be UTF-8
    for block in re.split(r"\r?\n--=_varco_[0-9a-f]+(?:--)?\r?\n", text):
        headers = block.split("\r\n\r\n", 1)[0]
        unfolded = re.sub(r"\r?\n[ \t]+", " ", headers)
        if f'filename="{filename}"' in unfolded:
            return unfolded
    raise AssertionError(f"no part named {filename}")


def test_the_calendar_part_names_its_charset_once(received):
    message = received("en")
    headers = _part_headers(message.raw, "event.ics")
    content_type = next(line for line in headers.splitlines()
                        if line.lower().startswith("content-type:"))
    assert content_type.lower().count("charset") == 1, content_type
    assert content_type.startswith("Content-Type: text/calendar;")
    assert 'method="PUBLISH"' in content_type or "method=PUBLISH" in content_type
    # And the part parses as the standard library reads it, to a calendar.
    parsed = email.message_from_bytes(message.raw, policy=email.policy.default)
    part = next(p for p in parsed.iter_attachments() if p.get_filename() == "event.ics")
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("charset") == "utf-8" and part.get_param("method") == "PUBLISH"
    assert part.get_content().startswith("BEGIN:VCALENDAR")


def test_the_english_text_begins_with_a_capital(received):
    message = received("en").message
    body = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    lines = [line for line in body.splitlines() if line.strip()]
    assert lines[0] == "Dear John Smith,"
    assert lines[1].startswith("Here is your ticket for "), lines[1]
    assert "here is your ticket" not in body and "here is your ticket" not in html
    assert "Here is your ticket for " in html


def test_the_italian_text_keeps_its_own_convention(received):
    body = received("it").message.get_body(preferencelist=("plain",)).get_content()
    lines = [line for line in body.splitlines() if line.strip()]
    assert lines[0] == "Gentile John Smith,"
    assert lines[1].startswith("ecco il tuo biglietto per "), lines[1]
