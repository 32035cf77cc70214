"""Reads of datasets that decide access."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404

from collaboration.selectors import restrict_to_member

from .models import Dataset


def datasets_for_user(*, user, workspace_id=None) -> QuerySet[Dataset]:
    """Datasets in the user's workspaces (none for anonymous users)."""
    queryset = restrict_to_member(Dataset.objects.select_related("workspace"), user=user)
    if workspace_id is not None:
        queryset = queryset.filter(workspace_id=workspace_id)
    return queryset


def dataset_get_for_user(*, user, id) -> Dataset:
    """The dataset if the user belongs to its workspace; Http404 otherwise (never 403)."""
    try:
        return datasets_for_user(user=user).get(pk=id)
    except (Dataset.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404 from None


def dataset_columns(*, dataset: Dataset) -> list[str]:
    """Column names in file order, from the stored profile (no file read)."""
    return dataset.column_names
