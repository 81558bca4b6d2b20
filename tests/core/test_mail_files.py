"""core/mail_files.py: embedded mode's one-.eml-per-message backend."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import threading

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection

from core import mail_files

NOW = dt.datetime(2026, 12, 6, 5, 14, 7, 123456, tzinfo=dt.UTC)


def _message(to: str, reference: str | None = None, subject: str = "Your ticket") -> EmailMessage:
    headers = {mail_files.REFERENCE_HEADER: reference} if reference else {}
    message = EmailMultiAlternatives(subject, "plain text", "Varco <tickets@varco.invalid>",
                                     [to], headers=headers)
    message.attach_alternative("<p>html</p>", "text/html")
    message.attach("ticket-AB12.pdf", b"%PDF-1.4 fake", "application/pdf")
    return message


@pytest.mark.parametrize(("text", "expected"), [
    ("zoe@example.org", "zoe-example.org"),
    ("Zoë.Müller@exämple.org", "Zoe.Muller-example.org"),
    ("łukasiewicz@example.pl", "ukasiewicz-example.pl"),  # Ł has no decomposition: dropped
    ("../../etc/passwd", "etc-passwd"),
    ("a b\tc\n;rm -rf *", "a-b-c-rm--rf"),
    (".hidden", "hidden"),
    ("Ζωή@παράδειγμα.ελ", "x"),  # nothing ASCII left
    ("x" * 300 + "@example.org", "x" * 60),
])
def test_safe_part(text, expected):
    assert mail_files.safe_part(text) == expected


def test_file_name_has_time_recipient_and_reference():
    name = mail_files.file_name(_message("Zoë@example.org", "VW7K2M"), NOW)
    assert name == "20261206-051407-123456_Zoe-example.org_VW7K2M.eml"
    assert mail_files.file_name(_message("a@b.c"), NOW) == "20261206-051407-123456_a-b.c.eml"
    long_name = mail_files.file_name(_message("y" * 250 + "@example.org", "R" * 200), NOW)
    assert len(long_name.encode()) <= 255  # NAME_MAX on Linux, macOS and Windows


def test_each_message_is_one_eml_a_mail_parser_reads(tmp_path):
    connection = get_connection("core.mail_files.EmlFileBackend", file_path=str(tmp_path))
    messages = [_message(f"person{i}@example.org", f"REF{i}") for i in range(50)]
    assert connection.send_messages(messages) == 50
    files = sorted(tmp_path.iterdir())
    assert len(files) == 50
    assert all(f.suffix == ".eml" and not f.name.startswith(".") for f in files)
    for i in range(50):
        [path] = [f for f in files if f"_person{i}-example.org_REF{i}.eml" in f.name]
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert parsed["To"] == f"person{i}@example.org"
        assert parsed["Message-ID"]
        assert parsed.get_body(("plain",)).get_content().strip() == "plain text"
        [pdf] = list(parsed.iter_attachments())
        assert pdf.get_filename() == "ticket-AB12.pdf"
        assert pdf.get_content() == b"%PDF-1.4 fake"
        assert os.stat(path).st_mode & 0o077 == 0  # attachments hold signed tickets


def test_same_name_twice_keeps_both(tmp_path):
    first = mail_files.write_atomically(tmp_path, "same.eml", b"one")
    second = mail_files.write_atomically(tmp_path, "same.eml", b"two")
    assert (first.name, second.name) == ("same.eml", "same-2.eml")
    assert (first.read_bytes(), second.read_bytes()) == (b"one", b"two")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same-2.eml", "same.eml"]  # no .tmp


def test_concurrent_writers_never_overwrite(tmp_path):
    barrier = threading.Barrier(8)

    def write(i: int) -> None:
        barrier.wait()
        mail_files.write_atomically(tmp_path, "race.eml", str(i).encode())

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    contents = sorted(int(p.read_bytes()) for p in tmp_path.iterdir())
    assert contents == list(range(8))


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def broken_link(src, dst):
        raise PermissionError("read-only")

    monkeypatch.setattr(mail_files.os, "link", broken_link)
    with pytest.raises(PermissionError):
        mail_files.write_atomically(tmp_path, "x.eml", b"data")
    assert list(tmp_path.iterdir()) == []
    connection = get_connection("core.mail_files.EmlFileBackend", file_path=str(tmp_path),
                                fail_silently=True)
    assert connection.send_messages([_message("a@example.org")]) == 0
