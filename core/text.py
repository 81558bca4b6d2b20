"""Rules for the text people type: names, organisations, event details, e-mail addresses.

Pure functions without the database; ``tickets.services`` applies them on every write path
(registration, API edits, admin forms, CSV import, management commands) and turns a
``TextRefused`` into a ``ServiceError`` naming the field.

What a one-line name may hold: any letter of any script, spaces, punctuation, emoji. What it
may not: control characters (CR, LF, BEL, ESC... they break PDFs, CSVs and e-mail headers),
line/paragraph separators, lone surrogates (not text; PostgreSQL refuses them), and invisible
format characters (Unicode category Cf): bidi overrides and isolates make "Mario Rossi" print
as "Mario issoR", zero-width spaces hide a name's real spelling. Only the two joiners that
writing needs are kept: ZWNJ (Persian, Indic scripts) and ZWJ (those scripts and emoji
sequences such as 👩‍💻).
"""

from __future__ import annotations

import unicodedata

import idna

# Zero-width non-joiner and joiner: part of correct spelling in several scripts and of emoji.
JOINERS = frozenset("\u200c\u200d")
LINE_SEPARATORS = frozenset("\u2028\u2029")


class TextRefused(ValueError):
    """The text breaks a rule; the message says which, for people."""


def clean_text(value: str, max_length: int | None, *, multiline: bool = False) -> str:
    """``value`` stripped, in NFC, or ``TextRefused``.

    NFC because the same name typed on two keyboards (é as one code point or e + accent)
    should be one string, and so one PDF glyph run. ``multiline`` texts (an event's
    description) may hold line breaks and tabs, nothing else of the above.
    """
    if not isinstance(value, str):
        raise TextRefused("Must be text.")
    # Surrounding white space (a trailing newline pasted with a name) is trimmed, not refused.
    value = value.strip()
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            raise TextRefused("Contains an invalid character (a lone UTF-16 surrogate).")
        if category == "Cc" or char in LINE_SEPARATORS:
            if multiline and char in "\n\r\t":
                continue
            raise TextRefused("Contains a line break or control character.")
        if category == "Cf" and char not in JOINERS:
            raise TextRefused(
                f"Contains an invisible formatting character (U+{ord(char):04X}), e.g. a "
                "text-direction override; type the text without it."
            )
    value = unicodedata.normalize("NFC", value)
    if max_length is not None and len(value) > max_length:
        raise TextRefused(f"Longer than {max_length} characters.")
    return value


def _fold(text: str) -> str:
    """NFKC case folding (Unicode's NFKC_Casefold, closely): long s (U+017F) → s,
    fullwidth K → k."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def ascii_domain(domain: str) -> str:
    """The domain as DNS sees it: IDNA 2008 with the UTS #46 mapping, lower-case ASCII.

    The ``idna`` package, not Python's ``idna`` codec: the codec implements IDNA 2003,
    which maps ``ß`` to ``ss`` (``faß.de`` and ``fass.de`` are different domains under
    IDNA 2008, the standard registries follow) and knows nothing of Unicode after 3.2.
    """
    try:
        return idna.encode(domain.rstrip("."), uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise TextRefused(f"Not a valid domain name: {domain!r}.") from exc


def email_key(address: str) -> str:
    """The form two addresses are compared in (the attendee uniqueness key).

    Local part: NFKC case-folded, so ``\u017fam@`` and ``SAM@`` are ``sam@`` (mail systems treat
    local parts case-insensitively in practice, and compatibility variants are look-alikes).
    Domain: its IDNA ASCII form, so ``müller.de`` and ``xn--mller-kva.de`` are one domain.
    """
    local, _, domain = address.strip().rpartition("@")
    if not local or not domain:
        raise TextRefused(f"Not a valid e-mail address: {address!r}.")
    return f"{_fold(local)}@{ascii_domain(domain)}"
