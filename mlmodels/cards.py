"""Model cards and network-graph data of registered models.

The card gathers what a clinician or reviewer needs before trusting a model:
intended use, training data, metrics (with subgroups), the decision threshold,
limitations and lineage. It renders as JSON or as Markdown.
"""

from __future__ import annotations

import json
from typing import Any

from .loading import final_estimator
from .models import ModelArtifact


def model_card(*, artifact: ModelArtifact) -> dict[str, Any]:
    lineage = artifact.lineage or {}
    dataset = artifact.dataset
    return {
        "model": {
            "id": str(artifact.pk),
            "name": artifact.name,
            "version": artifact.version,
            "aliases": sorted(alias.alias for alias in artifact.aliases.all()),
            "framework": artifact.framework,
            "task": artifact.task,
            "target": artifact.target,
            "class_labels": artifact.class_labels,
            "estimator": lineage.get("estimator"),
            "source": artifact.source,
            "created_by": artifact.created_by.get_username() if artifact.created_by else None,
            "created_at": artifact.created_at.isoformat(),
            "file_sha256": artifact.file_sha256,
            "size_bytes": artifact.size_bytes,
        },
        "intended_use": artifact.intended_use,
        "limitations": artifact.limitations,
        "training_data": {
            "dataset_id": str(dataset.pk) if dataset else None,
            "name": getattr(dataset, "name", None),
            "sha256": artifact.dataset_sha256 or getattr(dataset, "sha256", None) or None,
            "rows": getattr(dataset, "rows", None),
            "training_rows": lineage.get("training_rows"),
            "target": artifact.target,
            "target_balance": lineage.get("target_balance") or _profile_balance(artifact),
        },
        "features": artifact.feature_schema,
        "metrics": artifact.metrics,
        "subgroup_metrics": artifact.subgroup_metrics,
        "decision_threshold": artifact.threshold,
        "positive_class": artifact.positive_class,
        "threshold_rule": _threshold_rule(artifact),
        "excluded_columns": (artifact.extra or {}).get("excluded_columns", []),
        "lineage": {
            "source_run_id": str(artifact.source_run_id) if artifact.source_run_id else None,
            "hyperparameters": artifact.hyperparameters,
            "seed": lineage.get("seed"),
            "libraries": lineage.get("libraries", {}),
            "original_filename": lineage.get("original_filename"),
        },
    }


def _threshold_rule(artifact: ModelArtifact) -> str | None:
    """The rule that chose the decision threshold, as the run stored it."""
    extra = artifact.extra or {}
    return extra.get("threshold_rule") or (extra.get("threshold") or {}).get("rule")


def _profile_balance(artifact: ModelArtifact) -> dict[str, int] | None:
    """Class counts of the target column from the dataset's profile (classification)."""
    if artifact.task != "classification" or artifact.dataset is None:
        return None
    columns = (artifact.dataset.profile or {}).get("columns") or []
    column = next((c for c in columns if c.get("name") == artifact.target), None)
    top = (column or {}).get("top") or []
    return {str(entry.get("value")): entry.get("count") for entry in top} or None


def _value(value: Any) -> str:
    if value is None or value == "":
        return "not recorded"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _escape(text: Any) -> str:
    """Cell text that cannot break a Markdown table or inject markup."""
    return (
        str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")
    )


def model_card_markdown(card: dict[str, Any]) -> str:
    model, data, lineage = card["model"], card["training_data"], card["lineage"]
    estimator = f"`{_escape(_value(model['estimator']))}`"
    lines = [
        f"# Model card: {_escape(model['name'])} v{model['version']}",
        "",
        f"- **Task:** {model['task']} ({model['framework']}, {estimator})",
        f"- **Target:** {_escape(_value(model['target']))}",
        f"- **Aliases:** {', '.join(model['aliases']) or 'none'}",
        f"- **Registered:** {model['created_at']} by {_escape(_value(model['created_by']))}",
        f"- **File sha256:** `{model['file_sha256']}`",
        "",
        "## Intended use",
        "",
        _escape(card["intended_use"]) if card["intended_use"] else "_Not described yet._",
        "",
        "## Training data",
        "",
        f"- **Dataset:** {_escape(_value(data['name']))}",
        f"- **Dataset sha256:** {_value(data['sha256'])}",
        f"- **Rows:** {_value(data['rows'])} (used for training: {_value(data['training_rows'])})",
    ]
    balance = data.get("target_balance")
    if isinstance(balance, dict) and balance:
        parts = ", ".join(f"{_escape(k)}: {_value(v)}" for k, v in balance.items())
        lines.append(f"- **Target balance:** {parts}")
    else:
        lines.append("- **Target balance:** not recorded")
    lines += ["", "## Metrics", ""]
    metrics = {k: v for k, v in (card["metrics"] or {}).items() if not isinstance(v, dict | list)}
    if metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {_escape(k)} | {_value(v)} |" for k, v in metrics.items()]
    else:
        lines.append("_No metrics recorded (uploaded models are not evaluated)._")
    lines += _interval_lines(card["metrics"] or {})
    lines += _subgroup_lines(card["subgroup_metrics"] or {})
    lines += ["", "## Decision threshold", "", _threshold_text(card)]
    lines += _excluded_lines(card.get("excluded_columns"))
    lines += [
        "",
        "## Limitations",
        "",
        _escape(card["limitations"]) if card["limitations"] else "_Not described yet._",
        "",
        "## Lineage",
        "",
        f"- **Training run:** {_value(lineage['source_run_id'])}",
        f"- **Seed:** {_value(lineage['seed'])}",
    ]
    if lineage.get("original_filename"):
        lines.append(f"- **Uploaded file:** {_escape(lineage['original_filename'])}")
    libraries = ", ".join(f"{k} {v}" for k, v in (lineage["libraries"] or {}).items())
    lines.append(f"- **Libraries:** {libraries or 'not recorded'}")
    params = lineage["hyperparameters"] or {}
    if params:
        lines += ["", "| hyperparameter | value |", "|---|---|"]
        lines += [f"| {_escape(k)} | {_escape(_value(v))} |" for k, v in params.items()]
    return "\n".join(lines) + "\n"


def _threshold_text(card: dict[str, Any]) -> str:
    threshold = card["decision_threshold"]
    if threshold is None:
        return "Default (most probable class)."
    metrics = card["metrics"] or {}
    rule = metrics.get("threshold_rule")
    text = f"Predict {_escape(_value(metrics.get('positive_class')))} when its probability"
    text += f" is at least {_value(threshold)}"
    return text + (f" (rule: {_escape(rule)}, chosen out-of-fold)." if rule else ".")


def _interval_lines(metrics: dict[str, Any]) -> list[str]:
    """The bootstrap intervals and the k-fold summary that a run stores in its metrics."""
    lines: list[str] = []
    intervals = metrics.get("confidence_intervals")
    if isinstance(intervals, dict) and intervals.get("metrics"):
        lines += ["", "### 95% confidence intervals (test rows, at the threshold)", ""]
        lines += ["| metric | estimate | lower | upper |", "|---|---|---|---|"]
        for name, entry in intervals["metrics"].items():
            cells = [entry.get(key) for key in ("estimate", "lower", "upper")]
            lines.append(f"| {_escape(name)} | " + " | ".join(map(_value, cells)) + " |")
        lines.append(f"\n{_value(intervals.get('resamples'))} stratified bootstrap resamples.")
    cross = metrics.get("cross_validation")
    if isinstance(cross, dict) and cross.get("metrics"):
        lines += ["", f"### {_value(cross.get('folds'))}-fold cross-validation", ""]
        lines += ["| metric | mean | std |", "|---|---|---|"]
        for name, entry in cross["metrics"].items():
            lines.append(
                f"| {_escape(name)} | {_value(entry.get('mean'))} | {_value(entry.get('std'))} |"
            )
    return lines


def _excluded_lines(excluded: Any) -> list[str]:
    if not isinstance(excluded, list) or not excluded:
        return []
    lines = ["", "## Excluded columns", "", "| column | reason |", "|---|---|"]
    for entry in excluded:
        if isinstance(entry, dict):
            name, reason = entry.get("name"), entry.get("reason")
            lines.append(f"| {_escape(_value(name))} | {_escape(_value(reason))} |")
    return lines


def _subgroup_lines(subgroups: dict[str, Any]) -> list[str]:
    """The engine's {column, groups: [{value, n, metric: ...}]} as a table; any other
    shape as a JSON block (backticks escaped so it cannot close the fence)."""
    if not subgroups:
        return []
    lines = ["", "### Subgroups", ""]
    groups = subgroups.get("groups")
    if isinstance(groups, list) and all(isinstance(group, dict) for group in groups):
        keys = [k for k in dict.fromkeys(k for g in groups for k in g) if k not in ("value", "n")]
        lines.append(f"By **{_escape(_value(subgroups.get('column')))}**:")
        lines += ["", "| value | n | " + " | ".join(map(_escape, keys)) + " |"]
        lines.append("|---" * (len(keys) + 2) + "|")
        for group in groups:
            cells = [_value(group.get("value")), _value(group.get("n"))]
            cells += [_value(group.get(key)) for key in keys]
            lines.append("| " + " | ".join(map(_escape, cells)) + " |")
        return lines
    text = json.dumps(subgroups, indent=2, default=str)[:20_000].replace("`", "\\u0060")
    return [*lines, "```json", text, "```"]


# --- graph ------------------------------------------------------------------------------


def model_graph(*, artifact: ModelArtifact, pipeline: Any) -> dict[str, Any]:
    """{nodes, edges} from the engine's graph functions; a plain features -> model ->
    output graph for estimators the engine does not draw (uploaded models)."""
    from training.ml.graph import graph_for

    importance = (artifact.extra or {}).get("feature_importance") or {}
    importances = None
    if isinstance(importance, dict) and importance.get("features"):
        importances = dict(zip(importance["features"], importance["scores"], strict=False))
    try:
        return graph_for(pipeline, importances=importances, target=artifact.target or None)
    except (TypeError, AttributeError, KeyError, ValueError):
        return _generic_graph(artifact, pipeline)


def _generic_graph(artifact: ModelArtifact, pipeline: Any) -> dict[str, Any]:
    final = final_estimator(pipeline)
    features = [entry["name"] for entry in artifact.feature_schema][:20]
    nodes = [
        {"id": f"f{i}", "label": name, "type": "feature", "color": "#4C78A8"}
        for i, name in enumerate(features)
    ]
    nodes.append(
        {"id": "model", "label": type(final).__name__, "type": "ensemble", "color": "#B279A2"}
    )
    nodes.append(
        {
            "id": "output",
            "label": artifact.target or "prediction",
            "type": "output",
            "color": "#54A24B",
        }
    )
    edges = [{"from": f"f{i}", "to": "model", "weight": None} for i in range(len(features))]
    edges.append({"from": "model", "to": "output", "weight": 1.0})
    return {"nodes": nodes, "edges": edges}
