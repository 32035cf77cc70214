// One dataset: what it is (summary), what is in it (profile, preview), and what to do
// with it (train, download, delete).
import { useMemo, type ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { QueryState } from "@/components/states";
import { useTitle } from "@/components/useTitle";
import { useWorkspace } from "@/workspace/WorkspaceContext";
import { lifecycle, stageInWords, useDataset, type Dataset } from "./api";
import { ColumnProfile } from "./ColumnProfile";
import { DataPreview } from "./DataPreview";
import { DeleteButton, useDeleteConfirmation } from "./DeleteDataset";
import { formatBytes, formatCount, formatDate } from "./format";
import { StatusBadge } from "./StatusBadge";
import "./datasets.css";

export default function DatasetPage() {
  const { id = "" } = useParams();
  const dataset = useDataset(id);
  useTitle(dataset.data?.name ?? "Dataset");
  return (
    <QueryState query={dataset} label="Loading the dataset…">
      {(data) => <DatasetView dataset={data} />}
    </QueryState>
  );
}

function DatasetView({ dataset }: { dataset: Dataset }) {
  const { canEdit } = useWorkspace();
  const navigate = useNavigate();
  const { ask, dialog } = useDeleteConfirmation(() => navigate("/datasets"));
  const { status, error, stage } = lifecycle(dataset);
  const ready = status === "ready";
  const numeric = useMemo(
    () => new Set(dataset.columns.filter((c) => c.kind === "numeric").map((c) => c.name)),
    [dataset.columns],
  );

  return (
    <>
      <div className="page-header">
        <h1>{dataset.name}</h1>
        <div className="dataset-actions">
          {canEdit && ready && (
            <Link className="button primary" to={`/runs/new?dataset=${dataset.id}`}>
              Train a model
            </Link>
          )}
          {ready && (
            <a className="button" href={`/api/data/${dataset.id}/download/`} download>
              Download
            </a>
          )}
          {canEdit && <DeleteButton dataset={dataset} onClick={ask} />}
        </div>
      </div>
      {dataset.description && <p className="dataset-description">{dataset.description}</p>}
      {status === "rejected" && (
        <p role="alert" className="state state-error">
          The server could not use this file: {error ?? "it was rejected."}
        </p>
      )}
      {status === "processing" && (
        <p role="status" className="processing">
          The server is working on this file
          {stageInWords(stage) ? `: ${stageInWords(stage)}` : ""}. Its profile and preview
          appear when it is done.
        </p>
      )}
      <Summary dataset={dataset} status={<StatusBadge status={status} />} />
      {ready && (
        <>
          <section aria-labelledby="profile-heading">
            <h2 id="profile-heading">Profile</h2>
            <ColumnProfile dataset={dataset} />
          </section>
          <section aria-labelledby="preview-heading">
            <h2 id="preview-heading">Preview</h2>
            <DataPreview datasetId={dataset.id} numeric={numeric} />
          </section>
        </>
      )}
      {dialog}
    </>
  );
}

function Summary({ dataset, status }: { dataset: Dataset; status: ReactNode }) {
  const known = lifecycle(dataset).status === "ready";
  return (
    <dl className="card summary">
      <div>
        <dt>Status</dt>
        <dd>{status}</dd>
      </div>
      <div>
        <dt>Rows</dt>
        <dd className="num">{known ? formatCount(dataset.rows) : "—"}</dd>
      </div>
      <div>
        <dt>Columns</dt>
        <dd className="num">{known ? formatCount(dataset.n_columns) : "—"}</dd>
      </div>
      <div>
        <dt>Size</dt>
        <dd>{formatBytes(dataset.size_bytes)}</dd>
      </div>
      <div>
        <dt>Format</dt>
        <dd>
          {dataset.format ? dataset.format.toUpperCase() : "—"}
          {dataset.compression && ` (${dataset.compression})`}
        </dd>
      </div>
      {dataset.sha256 && (
        <div>
          <dt>SHA-256</dt>
          <dd>
            <code title={dataset.sha256}>{dataset.sha256.slice(0, 12)}…</code>
          </dd>
        </div>
      )}
      <div>
        <dt>File</dt>
        <dd>{dataset.original_filename || "—"}</dd>
      </div>
      <div>
        <dt>Created</dt>
        <dd>
          <time dateTime={dataset.created_at}>{formatDate(dataset.created_at)}</time>
          {dataset.created_by && ` by ${dataset.created_by}`}
        </dd>
      </div>
    </dl>
  );
}
