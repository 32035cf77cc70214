from __future__ import annotations

from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.settings import api_settings

from collaboration.renderers import CSVRenderer, attachment_filename
from collaboration.viewsets import UUID_RE, WorkspaceScopedViewSet, error_response

from . import services
from .downloads import StoredFileResponse
from .models import Dataset
from .parsing import DatasetRejected
from .serializers import (
    DatasetSerializer,
    DatasetSummarySerializer,
    DatasetUploadSerializer,
    PreviewQuerySerializer,
    PreviewSerializer,
)
from .uploads import TooManyFiles, UploadLimitHandler, UploadTooLarge, too_large_message

NOT_READY = error_response(
    "The dataset is not ready: still processing (code `dataset_processing`) or its "
    "upload was rejected (`dataset_rejected`)."
)
TOO_MANY_UPLOADS = error_response(
    "Already UPLOADS_PER_USER uploads processing for this user (code `too_many_uploads`)."
)


class DatasetNotReady(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "dataset_processing"


class TooManyUploads(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_uploads"


def require_ready(dataset: Dataset) -> Dataset:
    """The dataset, if its rows can be read; a 409 saying why not otherwise."""
    if dataset.status == Dataset.Status.PROCESSING:
        raise DatasetNotReady(
            "The dataset is still being processed; its rows can be read once it is ready."
        )
    if dataset.status == Dataset.Status.REJECTED:
        raise DatasetNotReady(
            f"The upload was rejected, so there is nothing to read: {dataset.error}",
            code="dataset_rejected",
        )
    return dataset


# .csv, .tsv, .txt, .parquet, each possibly .gz (which FileResponse sends as gzip).
ORIGINAL_MEDIA_TYPES = [
    "text/csv",
    "text/tab-separated-values",
    "text/plain",
    "application/gzip",
    "application/octet-stream",
]

# Room for the multipart boundaries and the small form fields around the file.
MULTIPART_OVERHEAD = 64 * 1024


def rejected_error(exc: DatasetRejected) -> exceptions.APIException:
    error = exceptions.APIException(detail=exc.message, code=exc.code)
    error.status_code = exc.status
    return error


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("workspace", OpenApiTypes.UUID, description="Only this workspace."),
            OpenApiParameter(
                "status",
                str,
                enum=Dataset.Status.values,
                description="Only datasets in this state (ready: those that can be trained on).",
            ),
        ]
    )
)
class DatasetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """Datasets of the caller's workspaces: list, detail with profile, preview,
    download of the original bytes, delete (editors)."""

    queryset = Dataset.objects.select_related("created_by")
    serializer_class = DatasetSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        wanted = self.request.query_params.get("status")
        if wanted is not None:
            if wanted not in Dataset.Status.values:
                known = ", ".join(Dataset.Status.values)
                raise exceptions.ValidationError(
                    {"status": [f"Unknown status {wanted!r}; one of: {known}."]}
                )
            queryset = queryset.filter(status=wanted)
        return queryset.defer("profile")

    def get_serializer_class(self):
        return DatasetSummarySerializer if self.action == "list" else DatasetSerializer

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.dataset_delete(dataset=self.get_object(), user=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        # The original file, with the media type its extension has (FileResponse's guess).
        responses={
            **{(200, media_type): OpenApiTypes.BINARY for media_type in ORIGINAL_MEDIA_TYPES},
            409: NOT_READY,
        }
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        dataset = require_ready(self.get_object())
        handle = services.dataset_open_original(dataset=dataset, user=request.user, request=request)
        return StoredFileResponse(
            handle, as_attachment=True, filename=services.dataset_download_filename(dataset)
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("offset", int, description="First row, from 0."),
            OpenApiParameter(
                "limit", int, description=f"Rows, 1..{services.PREVIEW_MAX_LIMIT} (default 50)."
            ),
        ],
        responses={200: PreviewSerializer, 409: NOT_READY},
    )
    @action(
        detail=False,
        methods=["get"],
        url_path=rf"preview/(?P<pk>{UUID_RE})",
        renderer_classes=[*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer],
    )
    def preview(self, request, pk=None):
        """`?format=csv`: the same window as a CSV attachment (formulas escaped)."""
        dataset = require_ready(self.get_object())
        query = PreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        offset, limit = query.validated_data["offset"], query.validated_data["limit"]
        if offset > dataset.rows:
            raise exceptions.ValidationError(
                {
                    "offset": [
                        f"offset {offset} is past the end; the dataset has {dataset.rows} rows."
                    ]
                }
            )
        page = services.dataset_preview(
            dataset=dataset, offset=offset, limit=limit, user=request.user, request=request
        )
        self.csv_filename = attachment_filename(
            f"{dataset.name}-rows-{offset}-{offset + len(page['rows'])}"
        )
        return Response(page)


class DatasetUploadView(WorkspaceScopedViewSet):
    """POST /api/data/upload: one CSV, TSV or Parquet file (optionally .gz) -> 202 dataset,
    `processing` until a worker has parsed it (then `ready` or `rejected`, announced on
    /ws/notifications). The type, size and first bytes are checked at once (400 / 413)."""

    queryset = Dataset.objects.all()
    serializer_class = DatasetUploadSerializer
    parser_classes = [MultiPartParser]

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body (the session CSRF check may): cap bytes and files
        # while they stream, and always spool to a temporary file, never to memory.
        request.upload_handlers = [
            UploadLimitHandler(request, max_bytes=settings.MAX_UPLOAD_SIZE),
            TemporaryFileUploadHandler(request),
        ]
        return super().initialize_request(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > settings.MAX_UPLOAD_SIZE + MULTIPART_OVERHEAD:
            raise UploadTooLarge(too_large_message(settings.MAX_UPLOAD_SIZE))
        super().initial(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": DatasetUploadSerializer},
        responses={
            202: DatasetSerializer,
            400: error_response(
                "Refused at once ({detail, code}: unsupported type, empty, not gzip), "
                "or a field error.",
                field_errors=True,
            ),
            413: error_response("Larger than MAX_UPLOAD_SIZE."),
            429: TOO_MANY_UPLOADS,
        },
    )
    def create(self, request):
        try:
            form = DatasetUploadSerializer(data=request.data)
        except TooManyFilesSent:
            raise TooManyFiles() from None
        form.is_valid(raise_exception=True)
        fields = form.validated_data
        workspace = self.workspace_for_write(fields.get("workspace"))
        limiter = next(h for h in request.upload_handlers if isinstance(h, UploadLimitHandler))
        try:
            dataset = services.dataset_receive(
                user=request.user,
                workspace=workspace,
                upload=fields["file"],
                filename=fields["file"].name,
                name=fields.get("name"),
                description=fields.get("description", ""),
                request=request,
                sha256=limiter.sha256,  # hashed while it streamed in
            )
        except DatasetRejected as exc:
            raise rejected_error(exc) from None
        except services.UploadLimit as exc:
            raise TooManyUploads(str(exc)) from None
        # In Django-Q's sync mode (tests, a single process) the worker's part has run.
        dataset = Dataset.objects.select_related("created_by").get(pk=dataset.pk)
        body = DatasetSerializer(dataset, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)
