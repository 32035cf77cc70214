// The workspace's datasets: upload (editors), the list with each one's state, delete.
import { useEffect, useState } from "react";
import { isNotFound } from "@/api/client";
import { Link } from "react-router";
import { Empty, QueryState } from "@/components/states";
import { useTitle } from "@/components/useTitle";
import { useWorkspace } from "@/workspace/WorkspaceContext";
import { lifecycle, LIST_PAGE_SIZE, stageInWords, useDatasetList, type DatasetSummary } from "./api";
import { DeleteButton, useDeleteConfirmation } from "./DeleteDataset";
import { formatBytes, formatCount, formatDate } from "./format";
import { StatusBadge } from "./StatusBadge";
import { UploadForm } from "./UploadForm";
import "./datasets.css";

export default function DatasetsPage() {
  useTitle("Datasets");
  const { workspace, canEdit } = useWorkspace();
  const [page, setPage] = useState(1);
  const list = useDatasetList(workspace.id, page);
  const { ask, dialog } = useDeleteConfirmation();
  const empty = list.data?.count === 0;
  // A page that a deletion emptied no longer exists (the server answers 404): go back to the first.
  const pageGone = page > 1 && isNotFound(list.error);
  useEffect(() => {
    if (pageGone) setPage(1);
  }, [pageGone]);

  return (
    <>
      <div className="page-header">
        <h1>Datasets</h1>
      </div>
      {/* Not while loading: an empty list shows the form inside its empty state instead. */}
      {canEdit && !list.isPending && !empty && <UploadForm />}
      <QueryState query={list} label="Loading datasets…">
        {(data) =>
          data.count === 0 ? (
            <Empty title="No datasets yet">
              {canEdit ? (
                <UploadForm />
              ) : (
                <p>An editor or owner of {workspace.name} can upload one.</p>
              )}
            </Empty>
          ) : (
            <>
              <DatasetTable datasets={data.results} canEdit={canEdit} onDelete={ask} />
              <Pager
                page={page}
                count={data.count}
                hasNext={Boolean(data.next)}
                hasPrevious={Boolean(data.previous)}
                onPage={setPage}
              />
            </>
          )
        }
      </QueryState>
      {dialog}
    </>
  );
}

function DatasetTable({
  datasets,
  canEdit,
  onDelete,
}: {
  datasets: DatasetSummary[];
  canEdit: boolean;
  onDelete: (target: { id: string; name: string }) => void;
}) {
  return (
    <table className="datasets-table" aria-label="Datasets">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Status</th>
          <th scope="col" className="num">
            Rows
          </th>
          <th scope="col" className="num">
            Columns
          </th>
          <th scope="col" className="num">
            Size
          </th>
          <th scope="col">Created by</th>
          <th scope="col">Created</th>
          {canEdit && (
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {datasets.map((dataset) => {
          const { status, error, stage } = lifecycle(dataset);
          const progress = status === "processing" ? stageInWords(stage) : null;
          const known = status === "ready";
          return (
            <tr key={dataset.id}>
              <th scope="row">
                <Link to={`/datasets/${dataset.id}`}>{dataset.name}</Link>
                {status === "rejected" && error && <p className="row-error">{error}</p>}
                {progress && <p className="row-progress">{progress}</p>}
              </th>
              <td>
                <StatusBadge status={status} />
              </td>
              <td className="num">{known ? formatCount(dataset.rows) : "—"}</td>
              <td className="num">{known ? formatCount(dataset.n_columns) : "—"}</td>
              <td className="num">{formatBytes(dataset.size_bytes)}</td>
              <td>{dataset.created_by ?? "—"}</td>
              <td>
                <time dateTime={dataset.created_at}>{formatDate(dataset.created_at)}</time>
              </td>
              {canEdit && (
                <td>
                  <DeleteButton dataset={dataset} onClick={onDelete} />
                </td>
              )}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Pager({
  page,
  count,
  hasNext,
  hasPrevious,
  onPage,
}: {
  page: number;
  count: number;
  hasNext: boolean;
  hasPrevious: boolean;
  onPage: (page: number) => void;
}) {
  if (!hasNext && !hasPrevious) return null;
  const first = (page - 1) * LIST_PAGE_SIZE + 1;
  const last = Math.min(page * LIST_PAGE_SIZE, count);
  return (
    <nav className="pager" aria-label="Dataset pages">
      <button type="button" disabled={!hasPrevious} onClick={() => onPage(page - 1)}>
        Previous page
      </button>
      <span>
        {formatCount(first)}–{formatCount(last)} of {formatCount(count)}
      </span>
      <button type="button" disabled={!hasNext} onClick={() => onPage(page + 1)}>
        Next page
      </button>
    </nav>
  );
}
