"""The HTML pages. Each view reads through the selectors or writes through the services,
and renders or redirects; nothing else happens here."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from webapp.accounts.models import User
from webapp.accounts.selectors import usage_get
from webapp.core.errors import ApplicationError, NotFound
from webapp.files.models import File, FileState
from webapp.files.reruns import file_reprocess, job_retry
from webapp.files.selectors import file_get, file_list, job_get
from webapp.files.services import file_upload, pipeline_parse
from webapp.pages.forms import UploadForm
from webapp.pages.presenters import file_view, metadata_rows, pretty_json

logger = logging.getLogger(__name__)

FILES_PER_PAGE = 50
UNFINISHED_SHOWN = 20
# Bytes per tus PATCH from the upload page; PAGES_UPLOAD_CHUNK_SIZE overrides it.
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("pages:upload")
    return render(request, "pages/home.html")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """The page; its form also works without JavaScript (the POST below)."""
    if request.method != "POST":
        return render(request, "pages/upload.html", _upload_context(request))
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("pages:upload")
    return _store_uploads(request, form.cleaned_data["files"], form.cleaned_data["pipeline"])


def _upload_context(request: HttpRequest) -> dict[str, Any]:
    """What the page and its script need: where intents go, the tus chunk size, the
    size limit, and the user's unfinished uploads (re-adding one of them resumes it)."""
    user: User = request.user  # type: ignore[assignment]
    unfinished = file_list(user=user).filter(state=FileState.AWAITING_UPLOAD)
    return {
        "form": UploadForm(),
        "uploads_api_url": reverse("files:upload-intents"),
        "chunk_size": getattr(settings, "PAGES_UPLOAD_CHUNK_SIZE", DEFAULT_CHUNK_SIZE),
        "max_upload_size": getattr(settings.USP, "max_upload_size", None),
        "unfinished": list(unfinished[:UNFINISHED_SHOWN]),
        "usage": usage_get(user=user),
    }


def _store_uploads(
    request: HttpRequest, uploads: list[UploadedFile], pipeline: str
) -> HttpResponse:
    try:
        steps = pipeline_parse(text=pipeline)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("pages:upload")
    stored = [file for file in (_store_one(request, u, steps) for u in uploads) if file]
    if len(stored) == 1 and len(uploads) == 1:
        return redirect("pages:file_detail", file_id=stored[0].pk)
    if stored:
        messages.success(request, f"Uploaded {len(stored)} of {len(uploads)} files.")
        return redirect("pages:file_list")
    return redirect("pages:upload")


def _store_one(request: HttpRequest, uploaded: UploadedFile, steps: list[str]) -> File | None:
    user: User = request.user  # type: ignore[assignment]
    try:
        return file_upload(owner=user, uploaded_file=uploaded, pipeline=steps)
    except ApplicationError as error:
        messages.error(request, f"{uploaded.name}: {error.message}")
        return None


@login_required
@require_safe
def file_list_page(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    page = Paginator(file_list(user=user), FILES_PER_PAGE).get_page(request.GET.get("page"))
    rows = [file_view(file) for file in page.object_list]
    return render(request, "pages/file_list.html", {"page": page, "rows": rows})


@login_required
@require_safe
def file_detail_page(request: HttpRequest, file_id: uuid.UUID) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    try:
        file = file_get(user=user, file_id=file_id)
    except NotFound:
        return render(request, "pages/not_found.html", status=404)
    context = {
        "item": file_view(file),
        "metadata_rows": metadata_rows(file.metadata),
        "metadata_json": pretty_json(file.metadata or {}),
    }
    return render(request, "pages/file_detail.html", context)


@login_required
@require_POST
def job_retry_page(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """The file page's "Retry" button: run a failed job again, then back to the file."""
    user: User = request.user  # type: ignore[assignment]
    try:
        job = job_get(user=user, job_id=job_id)
    except NotFound:
        return render(request, "pages/not_found.html", status=404)
    _perform(request, lambda: job_retry(job=job), done=f"{job.step} will run again.")
    return redirect("pages:file_detail", file_id=job.file_id)


@login_required
@require_POST
def file_reprocess_page(request: HttpRequest, file_id: uuid.UUID) -> HttpResponse:
    """The file page's "Process again" button: every current step, as new jobs."""
    user: User = request.user  # type: ignore[assignment]
    try:
        file = file_get(user=user, file_id=file_id)
    except NotFound:
        return render(request, "pages/not_found.html", status=404)
    _perform(request, lambda: file_reprocess(file=file), done="The file is being processed again.")
    return redirect("pages:file_detail", file_id=file.pk)


def _perform(request: HttpRequest, action: Callable[[], object], *, done: str) -> None:
    """Run a button's action and tell the user how it went on the next page."""
    try:
        action()
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
