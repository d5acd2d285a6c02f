"""The JSON form of a file, shared by the REST API and the pages."""

from __future__ import annotations

import re
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from usp.pipelines import STEPS
from webapp.core.fields import SPACES, StringField
from webapp.files.intents import IntentRequest
from webapp.files.links import content_url
from webapp.files.models import Derivative, File, Job, UploadIntent
from webapp.files.services import PIPELINE_MAX_STEPS, pipeline_validate


class JobSerializer(serializers.ModelSerializer[Job]):
    """One step applied to one file. A job the processor will try again is `queued` with
    its last error; `next_retry_at` estimates when (null when unknown)."""

    file_id = serializers.UUIDField(read_only=True)
    error_class = serializers.ChoiceField(
        choices=["transient", "permanent", ""],
        read_only=True,
        help_text="Whether trying again later may succeed: transient or permanent; empty "
        "without an error.",
    )
    error_code = serializers.CharField(
        read_only=True, help_text="The error's machine-readable code, e.g. not_an_image."
    )

    class Meta:
        model = Job
        fields = (
            "id",
            "file_id",
            "step",
            "state",
            "attempts",
            "error",
            "error_code",
            "error_class",
            "next_retry_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields


class DerivativeSerializer(serializers.ModelSerializer[Derivative]):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Derivative
        fields = ("kind", "content_type", "size", "url")
        read_only_fields = fields

    def get_url(self, derivative: Derivative) -> str:
        return content_url(derivative.file, derivative.kind, request=self.context.get("request"))


class FileSerializer(serializers.ModelSerializer[File]):
    """A file as every client sees it; pass `context={"request": request}` for absolute
    links (without a request they are built from USP_PUBLIC_URL). With a user-content
    origin, `content_url` and the derivatives' `url` are signed links there."""

    metadata = serializers.SerializerMethodField()
    jobs = JobSerializer(many=True, read_only=True)
    derivatives = DerivativeSerializer(many=True, read_only=True)
    content_url = serializers.SerializerMethodField()

    class Meta:
        model = File
        fields = (
            "id",
            "name",
            "size",
            "content_type",
            "sha256",
            "state",
            "error",
            "created_at",
            "metadata",
            "jobs",
            "derivatives",
            "content_url",
        )
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": True})
    def get_metadata(self, file: File) -> dict[str, Any]:
        return dict(file.metadata or {})

    def get_content_url(self, file: File) -> str:
        return content_url(file, request=self.context.get("request"))


class RawNameField(StringField):
    """A name exactly as sent: NUL, surrogates and control characters are accepted here
    and removed by the sanitizer, since the name is only ever displayed. It must be a
    JSON string: a number is not a name."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The stubs type `validators` as a property mypy cannot resolve here.
        self.validators = [
            validator
            for validator in self.validators  # type: ignore[has-type]
            if not isinstance(
                validator, ProhibitNullCharactersValidator | ProhibitSurrogateCharactersValidator
            )
        ]


def _steps_pattern() -> str:
    """The comma-separated form of a pipeline: up to PIPELINE_MAX_STEPS known step names,
    spaces around them and blanks between commas ignored, as `pipeline_validate` reads
    it; nothing but spaces and commas (the empty text too) is the default pipeline."""
    step = "(?:" + "|".join(re.escape(name) for name in STEPS) + ")"
    more = PIPELINE_MAX_STEPS - 1
    space, gap = f"[{SPACES}]", f"[{SPACES},]"
    steps = f"{gap}*{step}(?:{space}*,{gap}*{step}){{0,{more}}}{gap}*"
    return f"^(?:{gap}*|{steps})$"


STEPS_TEXT_SCHEMA = {"type": "string", "pattern": _steps_pattern(), "example": "metadata,checksum"}


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "array",
                "items": {"type": "string", "enum": list(STEPS)},
                "maxItems": PIPELINE_MAX_STEPS,
            },
            STEPS_TEXT_SCHEMA,
        ]
    }
)
class PipelineField(serializers.Field[list[str], Any, Any, Any]):
    """Step names as a list or as one comma-separated string."""

    default_error_messages = {"invalid": "A list of step names or a comma-separated string."}

    def to_internal_value(self, data: Any) -> list[str]:
        if isinstance(data, str):
            return pipeline_validate(steps=data.split(","))
        # A list names each step exactly, as the schema's enum does: no blanks, no spaces.
        if isinstance(data, list) and all(_exact_name(step) for step in data):
            return pipeline_validate(steps=data)
        self.fail("invalid")
        raise AssertionError("fail raises")

    def to_representation(self, value: list[str]) -> list[str]:
        return list(value)


def _exact_name(step: Any) -> bool:
    return isinstance(step, str) and step != "" and step == step.strip()


# Not a CharField: drf-spectacular would describe a blank-allowing one as oneOf this or
# the empty text, which the pattern already admits.
@extend_schema_field(STEPS_TEXT_SCHEMA)
class PipelineTextField(serializers.Field[str, str, str, Any]):
    """Step names as one comma-separated string, as a form sends them; read with
    `pipeline_parse`."""

    default_error_messages = {"invalid": "Comma-separated step names."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(data)

    def to_representation(self, value: str) -> str:
        return value


class ReprocessSerializer(serializers.Serializer[Any]):
    """Which steps to run again; without `steps`, the file's current ones."""

    steps = PipelineField(
        required=False,
        help_text="Step names, e.g. ['image.thumbnail'] or 'metadata,checksum'; absent or "
        "empty for the file's current steps.",
    )


class UploadIntentCreateSerializer(serializers.Serializer[Any]):
    """An upload announced before its bytes: they go to the returned `upload_url`."""

    name = RawNameField(
        min_length=1,
        max_length=5000,
        trim_whitespace=False,
        help_text="The file's name; shown sanitized (no directories or control characters, "
        "at most 255 characters), never used as a path.",
    )
    size = serializers.IntegerField(min_value=0, help_text="The exact size in bytes.")
    sha256 = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$",
        required=False,
        allow_blank=True,
        help_text="The SHA-256 the bytes must have (64 hex digits); storage refuses others.",
    )
    pipeline = PipelineField(
        required=False,
        help_text="Step names, e.g. ['metadata', 'checksum'] or 'metadata,checksum'; "
        "absent or empty for the default pipeline of the file's type.",
    )

    def intent_request(self) -> IntentRequest:
        data = self.validated_data
        return IntentRequest(
            name=data["name"],
            size=data["size"],
            sha256=data.get("sha256", "").lower(),
            pipeline=tuple(data.get("pipeline", ())),
        )


class UploadIntentSerializer(serializers.Serializer[UploadIntent]):
    """Where to send the bytes (a tus 1.0.0 upload resource, or one plain PUT)."""

    file_id = serializers.UUIDField()
    upload_url = serializers.URLField()
    expires_at = serializers.DateTimeField()
    max_size = serializers.IntegerField()
    file = FileSerializer()


class UsageSerializer(serializers.Serializer[Any]):
    """What your files take (uploads not yet finished included) and your limits."""

    bytes_used = serializers.IntegerField()
    bytes_limit = serializers.IntegerField()
    files_used = serializers.IntegerField()
    files_limit = serializers.IntegerField()


class ErrorDetailSerializer(serializers.Serializer[Any]):
    """`code` for programs, `message` for people, `fields` for invalid form fields."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # Declared here because a class attribute named `fields` would shadow
        # Serializer.fields.
        return {
            "code": serializers.CharField(),
            "message": serializers.CharField(),
            "fields": serializers.DictField(
                required=False, child=serializers.ListField(child=serializers.CharField())
            ),
        }


class ErrorSerializer(serializers.Serializer[Any]):
    """The body of every error response."""

    error = ErrorDetailSerializer()
