"""REST views of the model registry (DESIGN.md section 4, "Models").

The CRUD resource is one viewset; each action (upload, download, predict, card, graph,
aliases) is one small view on the same workspace-scoped base, so every one of them
sees only the caller's workspaces (others get 404) and writes need the editor role.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, renderers, status
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from collaboration.models import Role
from collaboration.viewsets import WorkspaceScopedViewSet, error_response
from datasets.downloads import StoredFileResponse
from datasets.services import UploadLimit
from datasets.uploads import TooManyFiles, UploadLimitHandler
from datasets.views import TOO_MANY_UPLOADS, TooManyUploads

from . import services
from .cards import model_card, model_card_markdown, model_graph
from .features import RowsError
from .models import ModelAlias, ModelArtifact, normalise_name
from .serialization import ModelFileError
from .serializers import (
    AliasInputSerializer,
    AliasOutputSerializer,
    ModelArtifactSerializer,
    ModelCardSerializer,
    ModelGraphSerializer,
    ModelUpdateSerializer,
    ModelUploadSerializer,
    PredictInputSerializer,
    PredictOutputSerializer,
)


def as_drf_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
    )


def model_unavailable(exc: ModelFileError) -> Response:
    """409 for a stored file that no longer loads (e.g. its sha256 no longer matches)."""
    return Response(
        {"detail": f"The stored model cannot be loaded: {exc}", "code": "model_unavailable"},
        status=status.HTTP_409_CONFLICT,
    )


NOT_READY_TEXT = (
    "the version is an upload still being checked (code `model_processing`) or one "
    "that was rejected (`model_rejected`)"
)
NOT_READY = error_response(NOT_READY_TEXT[0].upper() + NOT_READY_TEXT[1:] + ".")
MODEL_UNAVAILABLE = error_response(
    f"The stored model file no longer loads (`model_unavailable`), or {NOT_READY_TEXT}."
)


class MarkdownRenderer(renderers.BaseRenderer):
    media_type = "text/markdown"
    format = "md"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, str):
            return data.encode("utf-8")
        return json.dumps(data, default=str).encode("utf-8")  # errors keep their shape


class ModelScopedView(WorkspaceScopedViewSet):
    """Base of every registry view: the shared workspace-scoped viewset (members read,
    editors write, outsiders 404, the anonymous 401) over the registry's models."""

    queryset = ModelArtifact.objects.select_related(
        "workspace", "created_by", "dataset"
    ).prefetch_related("aliases")
    serializer_class = ModelArtifactSerializer

    def handle_exception(self, exc):
        if isinstance(exc, services.ModelNotReady):
            return Response({"detail": str(exc), "code": exc.code}, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)


@extend_schema(tags=["models"])
class ModelArtifactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ModelScopedView):
    """Registered models of the caller's workspaces, newest first."""

    filter_backends = [OrderingFilter]
    ordering_fields = ["created_at", "name", "version", "size_bytes", "framework", "task"]
    ordering = ["-created_at"]

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        if params.get("name"):
            queryset = queryset.filter(name_key=normalise_name(params["name"]))
        for field in ("framework", "task", "status"):
            if params.get(field):
                queryset = queryset.filter(**{field: params[field]})
        if params.get("alias"):
            queryset = queryset.filter(aliases__alias=params["alias"].strip().casefold())
        return queryset

    @extend_schema(
        parameters=[
            OpenApiParameter("workspace", OpenApiTypes.UUID),
            OpenApiParameter("name", str, description="Model name (case and spacing ignored)"),
            OpenApiParameter("framework", str, enum=["sklearn", "pytorch"]),
            OpenApiParameter("task", str, enum=["classification", "regression"]),
            OpenApiParameter(
                "status",
                str,
                enum=ModelArtifact.Status.values,
                description="`ready` for models that can be used (uploads are "
                "`processing` until a worker has checked them)",
            ),
            OpenApiParameter("alias", str),
            OpenApiParameter("ordering", str, description="created_at, name, version, ..."),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ModelUpdateSerializer, responses=ModelArtifactSerializer)
    def partial_update(self, request, pk=None):
        artifact = self.get_object()
        data = ModelUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.model_update(
            artifact=artifact, user=request.user, request=request, **data.validated_data
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=artifact.pk)).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.model_delete(artifact=self.get_object(), user=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["models"])
class ModelUploadView(ModelScopedView):
    """POST /api/models/upload -> 202: the next version, `processing` until a worker has
    read and checked the file (then `ready`, or `rejected` with the reason), announced
    on /ws/notifications. The type, size and form fields are checked at once."""

    parser_classes = [MultiPartParser, FormParser]

    def initialize_request(self, request, *args, **kwargs):
        # As for datasets: cap the bytes while they stream in (hashing them on the
        # way), and spool to a temporary file, never to memory.
        limit = min(settings.MAX_UPLOAD_SIZE, settings.MODEL_MAX_BYTES)
        request.upload_handlers = [
            UploadLimitHandler(
                request,
                max_bytes=limit,
                message=(services.model_too_large() if limit == settings.MODEL_MAX_BYTES else None),
            ),
            TemporaryFileUploadHandler(request),
        ]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": ModelUploadSerializer},
        responses={
            202: ModelArtifactSerializer,
            400: error_response("A field error, or a file type not accepted.", field_errors=True),
            413: error_response("Larger than MAX_UPLOAD_SIZE or MODEL_MAX_BYTES."),
            429: TOO_MANY_UPLOADS,
        },
        description="Upload .skops, a torch bundle (.mlbundle/.zip), a scikit-learn "
        ".pkl/.joblib (scanned; nothing outside an allow-list is ever imported) or a "
        ".pt/.pth state dict with its `architecture` spec. The answer is 202 with the "
        "version `processing`; a worker checks the file and the version becomes "
        "`ready`, or `rejected` with `error` and `error_code` (e.g. `untrusted_type`).",
    )
    def create(self, request):
        try:
            data = ModelUploadSerializer(data=request.data)
        except TooManyFilesSent:
            raise TooManyFiles() from None
        data.is_valid(raise_exception=True)
        values = data.validated_data
        workspace = self.workspace_for_write(values.get("workspace"))
        limiter = next(h for h in request.upload_handlers if isinstance(h, UploadLimitHandler))
        try:
            artifact = services.model_receive(
                workspace=workspace,
                user=request.user,
                name=values["name"],
                file=values["file"],
                task=values.get("task") or None,
                target=values.get("target", ""),
                feature_schema=values.get("feature_schema"),
                architecture=values.get("architecture"),
                class_labels=values.get("class_labels"),
                request=request,
                sha256=limiter.sha256,  # hashed while it streamed in
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        except UploadLimit as exc:
            raise TooManyUploads(str(exc)) from None
        # In Django-Q's sync mode (tests, a single process) the worker's part has run.
        artifact = self.get_queryset().get(pk=artifact.pk)
        return Response(ModelArtifactSerializer(artifact).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["models"])
class ModelDownloadView(ModelScopedView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 409: NOT_READY}
    )
    def retrieve(self, request, pk=None):
        artifact = self.get_object()
        handle = services.model_download(artifact=artifact, user=request.user, request=request)
        filename = f"{slugify(artifact.name) or 'model'}-v{artifact.version}{artifact.file_suffix}"
        return StoredFileResponse(
            handle,
            as_attachment=True,
            filename=filename,
            content_type="application/octet-stream",
        )


@extend_schema(tags=["models"])
class ModelPredictView(ModelScopedView):
    write_roles = {"predict": Role.VIEWER}  # predicting changes nothing; every member may
    queryset = ModelArtifact.objects.all()  # no joins: this path is latency-bound

    @extend_schema(
        request=PredictInputSerializer,
        responses={200: PredictOutputSerializer, 409: MODEL_UNAVAILABLE},
    )
    def predict(self, request, pk=None):
        artifact = self.get_object()
        data = PredictInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            out = services.model_predict(
                artifact=artifact,
                rows=data.validated_data["rows"],
                user=request.user,
                request=request,
            )
        except RowsError as exc:
            return Response(
                {"detail": str(exc), "code": "invalid_rows", **exc.problems.as_dict()},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        except ModelFileError as exc:
            return model_unavailable(exc)
        # The output serializer documents the shape; the dict is returned as built,
        # since re-validating thousands of floats would dominate the request's time.
        return Response(out)


@extend_schema(tags=["models"])
class ModelCardView(ModelScopedView):
    renderer_classes = [renderers.JSONRenderer, MarkdownRenderer]

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "md"])],
        responses={
            200: ModelCardSerializer,
            (200, "text/markdown"): OpenApiTypes.STR,
            409: NOT_READY,
        },
    )
    def retrieve(self, request, pk=None):
        card = model_card(artifact=services.model_require_ready(self.get_object()))
        if request.accepted_renderer.format == "md":
            return Response(model_card_markdown(card), content_type="text/markdown; charset=utf-8")
        return Response(card)


@extend_schema(tags=["models"])
class ModelGraphView(ModelScopedView):
    @extend_schema(responses={200: ModelGraphSerializer, 409: MODEL_UNAVAILABLE})
    def retrieve(self, request, pk=None):
        artifact = self.get_object()
        try:
            loaded = services.model_load(artifact=artifact)
        except ModelFileError as exc:
            return model_unavailable(exc)
        return Response(model_graph(artifact=artifact, pipeline=loaded.pipeline))


@extend_schema(tags=["models"])
class ModelAliasView(ModelScopedView):
    @extend_schema(
        request=AliasInputSerializer, responses={200: AliasOutputSerializer, 409: NOT_READY}
    )
    def create(self, request, pk=None):
        artifact = self.get_object()
        data = AliasInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            alias = services.model_alias_set(
                artifact=artifact,
                alias=data.validated_data["alias"],
                user=request.user,
                request=request,
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(AliasOutputSerializer(alias).data)

    @extend_schema(
        request=None,
        responses={204: None, 400: error_response("Not a valid alias.", field_errors=True)},
    )
    def destroy(self, request, pk=None, alias=None):
        artifact = self.get_object()
        try:
            services.model_alias_unset(
                artifact=artifact, alias=alias, user=request.user, request=request
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        except ModelAlias.DoesNotExist as exc:
            raise exceptions.NotFound(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)
