"""The agent's write-ahead journal: what it did with each job, on disk before it acts.

One JSON object per line, appended and ``fsync``'d before the step it records goes ahead (the
file's directory is synced once when the file is created), so after a crash — a SIGKILL, a
power cut — the last line that reached the disk says how far a job got:

- ``claimed``: the server gave the job to this station; nothing went to the printer.
- ``handed``: the server has been told (``handed/`` answered 200) and the bytes may have
  started towards the printer. From here on, a crash leaves the job *in doubt*.
- ``sent``: the printer (CUPS, or the label printer's socket) accepted the whole job;
  ``printer_job`` is the CUPS job id when there is one. Not yet reported to the server.
- ``done``: the server knows the outcome (printed, failed, resolved). The entry is closed.

Only the last line may be torn (a crash inside ``write``): it is ignored, which is safe because
the step it recorded had not started. A line is read as ``(job, attempt)``'s newest step; the
file is compacted at start-up (open entries rewritten to a new file, synced, renamed over the
old one), so it stays small. An exclusive ``flock`` on the file keeps a second agent off it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

STEPS = ("claimed", "handed", "sent", "done")


class JournalError(Exception):
    """The journal cannot be used (locked by another agent, unreadable, unwritable)."""


@dataclass(frozen=True)
class Entry:
    job: int
    attempt: int
    claim: str
    step: str
    at: str = ""
    printer_job: str | None = None
    outcome: str | None = None  # for ``done``: printed | failed | resolved-printed | ...

    @property
    def key(self) -> tuple[int, int]:
        return (self.job, self.attempt)

    @property
    def recorded_at(self) -> datetime | None:
        return datetime.fromisoformat(self.at) if self.at else None


def _parse(line: str) -> Entry | None:
    try:
        data = json.loads(line)
        entry = Entry(job=int(data["job"]), attempt=int(data["attempt"]),
                      claim=str(data["claim"]), step=str(data["step"]),
                      at=str(data.get("at") or ""), printer_job=data.get("printer_job"),
                      outcome=data.get("outcome"))
    except (ValueError, KeyError, TypeError):
        return None
    return entry if entry.step in STEPS else None


class Journal:
    """Open with ``Journal.open(path)`` (a context manager); one per agent process."""

    def __init__(self, path: Path, handle) -> None:
        self.path = path
        self._handle = handle
        self._entries: dict[tuple[int, int], Entry] = {}

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path) -> Iterator[Journal]:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115 (held open)
        except OSError as error:
            raise JournalError(f"cannot create the journal at {path}: {error}") from error
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise JournalError(f"another print agent is using the journal {path}") from None
            journal = cls._load(path)
            try:
                yield journal
            finally:
                journal._handle.close()
        finally:
            lock.close()

    @classmethod
    def _load(cls, path: Path) -> Journal:
        entries: dict[tuple[int, int], Entry] = {}
        try:
            with open(path, encoding="utf-8", errors="replace") as existing:
                for line in existing:
                    entry = _parse(line)
                    if entry is not None:  # a torn last line: its step never started
                        entries[entry.key] = entry
        except FileNotFoundError:
            pass
        except OSError as error:
            raise JournalError(f"cannot read the journal {path}: {error}") from error
        open_entries = [e for e in entries.values() if e.step != "done"]
        # Compact: the open entries only, written to a new file that replaces the old one
        # atomically (a crash during compaction leaves the old, complete file).
        fresh = path.with_name(path.name + ".new")
        try:
            with open(fresh, "w", encoding="utf-8") as out:
                for entry in open_entries:
                    out.write(json.dumps(asdict(entry)) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(fresh, path)
            _sync_directory(path.parent)
            handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (the journal's life)
        except OSError as error:
            raise JournalError(f"cannot write the journal {path}: {error}") from error
        journal = cls(path, handle)
        journal._entries = {e.key: e for e in open_entries}
        return journal

    def open_entries(self) -> list[Entry]:
        """Entries not yet ``done``, oldest job first."""
        return sorted(self._entries.values(), key=lambda e: e.key)

    def get(self, job: int, attempt: int) -> Entry | None:
        return self._entries.get((job, attempt))

    def record(self, entry: Entry, step: str, **fields) -> Entry:
        """Append ``entry`` at ``step`` and make it durable before returning."""
        assert step in STEPS, step
        new = replace(entry, step=step, at=datetime.now(UTC).isoformat(), **fields)
        self._handle.write(json.dumps(asdict(new)) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        if step == "done":
            self._entries.pop(new.key, None)
        else:
            self._entries[new.key] = new
        return new


def _sync_directory(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable (POSIX: fsync the directory)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
