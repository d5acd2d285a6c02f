from __future__ import annotations

from django import forms

EXPIRY_CHOICES = [("", "Never"), ("30", "30 days"), ("90", "90 days"), ("365", "365 days")]


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    expires_in_days = forms.TypedChoiceField(
        label="Expires after",
        choices=EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )
