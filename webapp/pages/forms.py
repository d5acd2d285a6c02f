"""The upload form: any number of files, and optionally the steps to run on them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A FileField whose cleaned value is the list of every chosen file."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data]
        files = [item for item in files if item]
        if not files:
            raise forms.ValidationError("Choose at least one file.", code="required")
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class UploadForm(forms.Form):
    # Declared fields leave the class namespace, so this does not shadow Form.files.
    files = MultipleFileField(  # type: ignore[assignment]
        label="Files",
        widget=MultipleFileInput(attrs={"id": "file-input", "class": "file-input"}),
    )
    pipeline = forms.CharField(
        label="Steps (optional)",
        required=False,
        max_length=1000,
        help_text="Comma-separated, e.g. metadata,checksum. Empty: the default for the type.",
        widget=forms.TextInput(attrs={"placeholder": "default for the file type"}),
    )
