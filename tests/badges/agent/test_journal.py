"""The agent's journal: durable steps, a torn last line ignored, compaction, one agent per file."""

from __future__ import annotations

import json

import pytest

from badges.agent.journal import Entry, Journal, JournalError


def test_steps_survive_a_reopen_and_done_entries_are_compacted_away(tmp_path):
    path = tmp_path / "j" / "journal.jsonl"
    with Journal.open(path) as journal:
        one = journal.record(Entry(1, 1, "a", "claimed"), "claimed")
        journal.record(one, "handed")
        two = journal.record(Entry(2, 1, "b", "claimed"), "claimed")
        journal.record(journal.record(two, "handed"), "sent", printer_job="17")
        three = journal.record(Entry(3, 2, "c", "claimed"), "claimed")
        journal.record(three, "done", outcome="printed")
        assert [e.key for e in journal.open_entries()] == [(1, 1), (2, 1)]
    assert len(path.read_text().splitlines()) == 7
    with Journal.open(path) as journal:
        entries = {e.key: e for e in journal.open_entries()}
        assert entries[(1, 1)].step == "handed" and entries[(1, 1)].recorded_at is not None
        assert (entries[(2, 1)].step, entries[(2, 1)].printer_job) == ("sent", "17")
        assert (3, 2) not in entries
    assert len(path.read_text().splitlines()) == 2  # compacted at open


def test_a_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "journal.jsonl"
    whole = json.dumps({"job": 4, "attempt": 1, "claim": "x", "step": "claimed", "at": ""})
    path.write_text(whole + "\n" + whole.replace("claimed", "handed")[:30])
    with Journal.open(path) as journal:
        [entry] = journal.open_entries()
        assert entry.step == "claimed"  # the handed step never started


def test_a_second_agent_on_the_same_journal_is_refused(tmp_path):
    path = tmp_path / "journal.jsonl"
    with (Journal.open(path), pytest.raises(JournalError, match="another print agent"),
          Journal.open(path)):
        pass
    with Journal.open(path):  # released
        pass


def test_an_unwritable_place_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with (pytest.raises(JournalError, match="cannot create the journal"),
          Journal.open(blocker / "journal.jsonl")):
        pass
