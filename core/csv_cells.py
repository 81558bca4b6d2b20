"""The one CSV-injection guard for every CSV file Varco writes (and the importer's undo).

A spreadsheet opening a CSV runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=HYPERLINK(...)``, DDE payloads), some also after a leading tab or carriage return,
and spreadsheets in East Asian locales fold the full-width forms (U+FF1D, U+FF0B, U+FF0D,
U+FF20) into the ASCII ones. Following OWASP's "CSV Injection" guidance, such a cell is written
with a leading apostrophe, which spreadsheets read as "this is text". The guard applies to
*every* text cell of a row (``SafeWriter``), not to a hand-picked list of columns: an e-mail
address such as ``=1+1@x.org`` is valid, and a device's name is typed by an organiser.

The importer undoes it (``unneutralise``) so that an exported list re-imports unchanged. A
value that itself starts with apostrophes before a formula character gets one more, so the
round trip is exact for any text: ``neutralise`` adds exactly one apostrophe, ``unneutralise``
removes exactly one, and only from values of the shape ``'+ <formula character> ...``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

# Cells starting with one of these are formulas to some spreadsheet (OWASP; full-width forms).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_ESCAPED = re.compile("'*[" + re.escape("".join(FORMULA_STARTS)) + "]")


def neutralise(value: str) -> str:
    """``value`` as a cell no spreadsheet runs as a formula."""
    return "'" + value if _ESCAPED.match(value) else value


def unneutralise(value: str) -> str:
    """Undo ``neutralise`` (on import): one leading apostrophe before a formula start goes."""
    return value[1:] if value[:1] == "'" and _ESCAPED.match(value, 1) else value


def safe_row(row: Iterable[Any]) -> list[Any]:
    """The row with every text cell neutralised (numbers and empty cells are left as they are)."""
    return [neutralise(cell) if isinstance(cell, str) else cell for cell in row]


class SafeWriter:
    """``csv.writer`` whose rows go through ``safe_row``: the only way Varco writes CSV."""

    def __init__(self, stream) -> None:
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(row))
