"""Serializer fields shared by the API's request bodies."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

# What str.strip() removes (and so DRF's CharField trims), written out for a regex
# character class: the \s of Python's re, of the schema's validators and of clients'
# regex engines differ.
SPACES = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x10000)) if c.isspace())


class _NameText(RegexValidator):
    """Text as DRF's CharField takes it, for the schema to say so: no NUL anywhere (a
    database could not keep it) and, once trimmed, not blank (a character str.strip()
    keeps). DRF's own checks refuse both first, with their own messages."""

    def __call__(self, value: Any) -> None:
        if "\x00" not in str(value):  # else DRF's ProhibitNullCharactersValidator says so
            super().__call__(value)


NAME_TEXT = _NameText(f"^[^\\u0000]*[^\\u0000{SPACES}][^\\u0000]*$", "This field may not be blank.")


class StringField(serializers.CharField):
    """A CharField that takes only a JSON string: DRF's turns numbers into text, which
    the schema (type string) does not allow."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))
