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

import re
import unicodedata
from functools import lru_cache

import idna
from anyascii import anyascii
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

# Zero-width non-joiner and joiner: part of correct spelling in several scripts and of emoji.
JOINERS = frozenset("\u200c\u200d")
LINE_SEPARATORS = frozenset("\u2028\u2029")


class TextRefused(ValueError):
    """The text breaks a rule; the message says which, for people (translated lazily: it is
    rendered where it is shown, in that request's language)."""

    @property
    def message(self) -> str | Promise:
        return self.args[0]


def clean_text(value: str, max_length: int | None, *, multiline: bool = False) -> str:
    """``value`` stripped, in NFC, or ``TextRefused``.

    NFC because the same name typed on two keyboards (é as one code point or e + accent)
    should be one string, and so one PDF glyph run. ``multiline`` texts (an event's
    description) may hold line breaks and tabs, nothing else of the above.
    """
    if not isinstance(value, str):
        raise TextRefused(_("Must be text."))
    # Surrounding white space (a trailing newline pasted with a name) is trimmed, not refused.
    value = value.strip()
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            raise TextRefused(_("Contains an invalid character (a lone UTF-16 surrogate)."))
        if category == "Cc" or char in LINE_SEPARATORS:
            if multiline and char in "\n\r\t":
                continue
            raise TextRefused(_("Contains a line break or control character."))
        if category == "Cf" and char not in JOINERS:
            raise TextRefused(format_lazy(_(
                "Contains an invisible formatting character (U+{code}), e.g. a "
                "text-direction override; type the text without it."), code=f"{ord(char):04X}"))
    value = unicodedata.normalize("NFC", value)
    if max_length is not None and len(value) > max_length:
        raise TextRefused(format_lazy(_("Longer than {count} characters."), count=max_length))
    return value


def _fold(text: str) -> str:
    """NFKC case folding (Unicode's NFKC_Casefold, closely): long s (U+017F) → s,
    fullwidth K → k."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


@lru_cache(maxsize=4096)  # a pure function, and a few domains make most addresses
def ascii_domain(domain: str) -> str:
    """The domain as DNS sees it: IDNA 2008 with the UTS #46 mapping, lower-case ASCII.

    The ``idna`` package, not Python's ``idna`` codec: the codec implements IDNA 2003,
    which maps ``ß`` to ``ss`` (``faß.de`` and ``fass.de`` are different domains under
    IDNA 2008, the standard registries follow) and knows nothing of Unicode after 3.2.
    """
    try:
        return idna.encode(domain.rstrip("."), uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise TextRefused(format_lazy(_("Not a valid domain name: {domain!r}."),
                                       domain=domain)) from exc


def email_key(address: str) -> str:
    """The form two addresses are compared in (the attendee uniqueness key).

    Local part: NFKC case-folded, so ``\u017fam@`` and ``SAM@`` are ``sam@`` (mail systems treat
    local parts case-insensitively in practice, and compatibility variants are look-alikes).
    Domain: its IDNA ASCII form, so ``müller.de`` and ``xn--mller-kva.de`` are one domain.
    """
    local, _at, domain = address.strip().rpartition("@")
    if not local or not domain:
        raise TextRefused(format_lazy(_("Not a valid e-mail address: {address!r}."),
                                       address=address))
    return f"{_fold(local)}@{ascii_domain(domain)}"


# --- search keys ----------------------------------------------------------------------------
#
# What a search compares: the stored text and the query, each folded by ``search_key``, so that
# "zoe", "ZOË" and "Zoë" meet, and so do "muller"/"Müller", "lukasiewicz"/"Łukasiewicz",
# "strasse"/"Straße", "αθηνα"/"Αθηνά", "иван"/"Иван".
#
# Why ``anyascii`` (ISC, maintained, one table per code point for all of Unicode) and not a
# hand table over NFKD: NFKD + stripping combining marks handles é/ë/å, but not the letters
# that are not "base + mark" in Unicode (ł ø æ ß đ þ ŋ, dotless i ...), and a hand list of those is
# never finished (Vietnamese ơ/ư decompose, Icelandic þ does not; Maltese ħ does not...).
# anyascii transliterates every script to ASCII with one rule per character, so a key is
# also script-blind where people expect it: "athina" finds "Αθηνά", "ivan" finds "Иван" (the
# door staff's keyboard may not have the attendee's script). The cost is that transliteration
# merges some letters (Cyrillic ha and Latin kh both give "kh"): a search shows a few more
# names, never fewer.
#
# Apostrophes vanish ("dangelo" and "d'angelo" find "D\u2019Angelo"); other punctuation and
# spaces become one space, so "jean luc" finds "Jean-Luc" and an e-mail
# "mario.rossi@example.org" is found by "mario rossi"; this also means LIKE's wildcards
# (% and _) never reach the database from a query. A character anyascii does not know (an
# unassigned or private-use code point) is kept case-folded when it is a letter or digit, so
# a name made of such characters is still found by itself.

_APOSTROPHES = str.maketrans("", "", "'`")  # U+2019 and U+02BC are "'" after anyascii
# Anything but a letter or digit of any script (``\W`` is Unicode-aware; ``_`` is a "word"
# character to ``re`` but punctuation here).
_SEPARATORS = re.compile(r"[\W_]+")


def _ascii(char: str) -> str:
    folded = anyascii(char)
    if folded:
        return folded
    return char.casefold() if char.isalnum() else " "


def transliterated(text: str) -> str:
    """``text`` in ASCII character by character (NFC first), lower case, apostrophes gone."""
    # NFC first: anyascii maps a lone combining mark to nothing, so "e" + U+0301 already gives
    # "e"; NFC is for the scripts where composing changes the letter (Hangul jamo → syllable).
    text = unicodedata.normalize("NFC", text)
    return "".join(_ascii(char) for char in text).lower().translate(_APOSTROPHES)


def search_key(text: str) -> str:
    """The folded form a search compares (see above): lower-case ASCII words (plus any letter
    anyascii cannot transliterate, case-folded) separated by single spaces, none at either
    end; ``""`` for text with nothing searchable in it."""
    # anyascii maps every ASCII character to itself and NFC leaves ASCII as it is: ASCII text
    # (most names, every e-mail address; keys are made at every registration) skips the call
    # per character (tests/core/test_search_key.py holds the two paths equal).
    ascii_text = text.isascii()
    folded = text.lower().translate(_APOSTROPHES) if ascii_text else transliterated(text)
    return " ".join(_SEPARATORS.sub(" ", folded).split())
