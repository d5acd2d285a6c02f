"""The jobs REST API: list your jobs, retry a failed one, reprocess a file."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.core.pagination import StrictPageNumberPagination
from webapp.core.parsers import JSONParser
from webapp.files.api import FILE_ID, PAGE_NOT_FOUND, error_responses
from webapp.files.models import JobState
from webapp.files.reruns import file_reprocess, job_retry
from webapp.files.selectors import file_get, job_get, job_list
from webapp.files.serializers import FileSerializer, JobSerializer, ReprocessSerializer

JOB_ID = OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
STATE = OpenApiParameter(
    "state", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=list(JobState.values)
)
STEP = OpenApiParameter(
    "step", OpenApiTypes.STR, OpenApiParameter.QUERY, description="e.g. image.thumbnail"
)


class JobPagination(StrictPageNumberPagination):
    page_size = 50


class JobListApi(APIView):
    pagination_class = JobPagination

    @extend_schema(
        operation_id="jobs_list",
        summary="Your files' jobs, newest first",
        description="The current jobs of your files (a reprocess supersedes a file's "
        "earlier jobs of the same steps), optionally in one state and of one step.",
        parameters=[STATE, STEP],
        responses={200: JobSerializer(many=True), **error_responses(400, 401), **PAGE_NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        jobs = job_list(
            user=request.user,
            state=request.query_params.get("state"),
            step=request.query_params.get("step", "").strip(),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response(JobSerializer(page, many=True).data)


class JobRetryApi(APIView):
    @extend_schema(
        operation_id="jobs_retry",
        summary="Run a failed job again",
        description="The job is queued again under its id (its attempts kept, its error "
        "cleared) on the reprocessing queue. 409 with code not_failed for a job that is "
        "not failed, superseded for one a reprocess replaced.",
        parameters=[JOB_ID],
        request=None,
        responses={202: JobSerializer, **error_responses(401, 403, 404, 409, 503)},
    )
    def post(self, request: Request, job_id: str) -> Response:
        job = job_retry(job=job_get(user=request.user, job_id=job_id))
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class FileReprocessApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="files_reprocess",
        summary="Process a stored file again",
        description="Runs the chosen steps (by default the file's current ones) as new "
        "jobs on the reprocessing queue; they replace the file's earlier jobs of the same "
        "steps. 409 with code not_stored when the file has no stored bytes.",
        parameters=[FILE_ID],
        request=ReprocessSerializer,
        responses={
            202: FileSerializer,
            **error_responses(400, 401, 403, 404, 409, 413, 415, 503),
        },
    )
    def post(self, request: Request, file_id: str) -> Response:
        serializer = ReprocessSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        file = file_get(user=request.user, file_id=file_id)
        file_reprocess(file=file, steps=serializer.validated_data.get("steps", ()))
        file = file_get(user=request.user, file_id=file_id)
        body = FileSerializer(file, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)
