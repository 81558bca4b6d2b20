"""The languages Varco speaks: the one list every page, e-mail, PDF and API field uses.

Italian first: it is the default for an event that names none and for a person whose language
is unknown. Adding a language means adding it here and translating each app's catalogue
(``make messages``); nothing else lists languages. No Django imports, so settings can use it.
"""

from __future__ import annotations

# (code, name in that language), in the order offered.
LANGUAGES: tuple[tuple[str, str], ...] = (("it", "Italiano"), ("en", "English"))
CODES: tuple[str, ...] = tuple(code for code, _ in LANGUAGES)
DEFAULT = CODES[0]
NAMES = dict(LANGUAGES)


def supported(code: str | None) -> bool:
    return code in NAMES


def or_default(code: str | None) -> str:
    """``code`` if Varco speaks it, else the default."""
    return code if code in NAMES else DEFAULT
