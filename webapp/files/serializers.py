"""The JSON form of a file, shared by the REST API and the pages."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webapp.files.links import absolute_url, derivative_content_path, file_content_path
from webapp.files.models import Derivative, File, Job


class JobSerializer(serializers.ModelSerializer[Job]):
    class Meta:
        model = Job
        fields = ("id", "step", "state", "attempts", "error", "started_at", "finished_at")
        read_only_fields = fields


class DerivativeSerializer(serializers.ModelSerializer[Derivative]):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Derivative
        fields = ("kind", "content_type", "size", "url")
        read_only_fields = fields

    def get_url(self, derivative: Derivative) -> str:
        path = derivative_content_path(derivative.file, derivative.kind)
        return absolute_url(path, self.context.get("request"))


class FileSerializer(serializers.ModelSerializer[File]):
    """A file as every client sees it; pass `context={"request": request}` for absolute
    links (without a request they are built from USP_PUBLIC_URL)."""

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
        return absolute_url(file_content_path(file), self.context.get("request"))


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
