"""The file catalog: what a user uploaded, its processing jobs and their derivatives.

The bytes live in the storage service; these rows are what every view reads.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class FileState(models.TextChoices):
    AWAITING_UPLOAD = "awaiting_upload", "Awaiting upload"
    STORED = "stored", "Stored"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    # The upload was abandoned: its session expired before the last byte arrived.
    EXPIRED = "expired", "Expired"


# States a file never leaves by itself: watchers and live pages stop following it here.
SETTLED_FILE_STATES = frozenset({FileState.READY, FileState.FAILED, FileState.EXPIRED})


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ErrorClass(models.TextChoices):
    """Whether trying the failed work again later may succeed."""

    NONE = "", "No error"
    TRANSIENT = "transient", "Transient"
    PERMANENT = "permanent", "Permanent"


class File(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="files"
    )
    name = models.CharField(max_length=255)
    size = models.BigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    state = models.CharField(
        max_length=20, choices=FileState.choices, default=FileState.AWAITING_UPLOAD, db_index=True
    )
    metadata = models.JSONField(default=dict, blank=True)
    # Why the upload failed (e.g. storage rejected its bytes); empty otherwise.
    error = models.TextField(blank=True)
    # The bytes this file counts against its owner's quota; None once it counts nothing
    # (an upload that ended unfinished), so a release happens at most once.
    charged_bytes = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["owner", "-created_at"], name="file_owner_newest")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_stored(self) -> bool:
        """Its bytes are committed in storage (whatever its processing says)."""
        return self.state != FileState.AWAITING_UPLOAD and bool(self.sha256)


class Job(models.Model):
    """One step of a file's pipeline; the id is the one storage gave it at dispatch."""

    id = models.UUIDField(primary_key=True, editable=False)
    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="jobs")
    step = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(
        max_length=20, choices=JobState.choices, default=JobState.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    # The last failure, kept while the job waits for its next attempt.
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_class = models.CharField(max_length=20, choices=ErrorClass.choices, blank=True)
    # About when the processor tries again after a transient failure (an estimate).
    next_retry_at = models.DateTimeField(null=True, blank=True)
    last_sequence = models.BigIntegerField(default=0)
    # A reprocess replaced this job with a new one for the same step; it stays as history
    # and no longer counts towards the file's state.
    superseded = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("position", "created_at", "step")
        indexes = [models.Index(fields=["state", "step"], name="job_state_step")]

    def __str__(self) -> str:
        return f"{self.step} ({self.state})"


class Derivative(models.Model):
    """A file a step produced from the original (a thumbnail, a preview)."""

    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="derivatives")
    kind = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("kind",)
        constraints = [
            models.UniqueConstraint(fields=["file", "kind"], name="derivative_unique_kind")
        ]

    def __str__(self) -> str:
        return self.kind


class UploadIntent(models.Model):
    """An announced upload and the storage session its bytes go to.

    Keyed by the owner's Idempotency-Key when one was sent, so that a retried intent
    finds this one (and its session) instead of reserving again.
    """

    file = models.OneToOneField(
        File, on_delete=models.CASCADE, primary_key=True, related_name="upload_intent"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_intents"
    )
    idempotency_key = models.CharField(max_length=255, blank=True)
    # SHA-256 of the request as validated: a key reused for another request is refused.
    fingerprint = models.CharField(max_length=64)
    session_id = models.CharField(max_length=100, blank=True)
    upload_url = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_size = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="upload_intent_unique_key",
            )
        ]

    def __str__(self) -> str:
        return f"upload of {self.file_id}"

    @property
    def has_session(self) -> bool:
        return bool(self.upload_url)
