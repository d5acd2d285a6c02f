from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A person who uploads files; signs in with an e-mail address and a password."""


class ApiToken(models.Model):
    """A personal API key. Only its SHA-256 is stored; the key is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Usage(models.Model):
    """What a user's files take from their quotas.

    A file counts from the moment its upload is announced (the reservation) until it is
    deleted or its upload ends without bytes (aborted, expired, rejected); so a stored
    file and a reserved one count alike, and concurrent uploads cannot overshoot.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="usage"
    )
    bytes_used = models.BigIntegerField(default=0)
    files_used = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "usage"

    def __str__(self) -> str:
        return f"{self.files_used} files, {self.bytes_used} bytes"
