"""Serializer pieces every API of Varco shares: strict input, the error shape, date bounds."""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

from core import instants

# Keys a browser form adds by itself; they are not input of ours.
_FORM_KEYS = frozenset({"csrfmiddlewaretoken"})


class StrictFieldsMixin:
    """Refuse input keys the serializer does not know (a typo such as ``capacty`` would
    otherwise be silently ignored and the organiser would believe it was saved). Known
    read-only fields are still ignored, so a GET body can be sent back as a PUT."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            self.refuse_unknown(data, self.fields)
        return super().to_internal_value(data)

    @staticmethod
    def refuse_unknown(data: Mapping, fields) -> None:
        unknown = sorted(set(data) - set(fields) - _FORM_KEYS)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})


def plausible_datetime(value) -> None:
    """Dates every read path can show, in any time zone (``core/instants.py``): before 1900
    time zones had local mean time offsets (Rome: +00:49:56) that ISO 8601 output and API
    clients cannot represent; near the year 9999 a time zone east of UTC overflows."""
    if value is not None and not instants.in_range(value):
        raise serializers.ValidationError(f"The date must be {instants.RANGE_TEXT}.")


class ErrorSerializer(serializers.Serializer):
    """The API's one error shape (core.errors.error_body); documented on every operation."""

    error = serializers.CharField(help_text="machine-readable code, e.g. `invalid`, `sold_out`")
    detail = serializers.CharField(help_text="a sentence for people")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="each input at fault (a field name, or `body`, `content_type`, `file`) with "
        "its messages; empty when no single input is at fault",
    )
