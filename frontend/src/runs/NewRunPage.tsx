// /runs/new?dataset={id}: the training form. The dataset is part of the URL, so a dataset's
// page links straight here; the rest of the form is built from that dataset's profile and
// the engine's model types.
import { useId } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { ApiError } from "@/api/client";
import { Empty, ErrorState, Loading, QueryState } from "@/components/states";
import { useTitle } from "@/components/useTitle";
import { useWorkspace } from "@/workspace/WorkspaceContext";
import { ErrorSummary } from "./form/ErrorSummary";
import { FieldErrors } from "./form/Field";
import { RunForm } from "./form/RunForm";
import {
  useDatasetDetail,
  useModelTypes,
  useStartRun,
  useTrainableDatasets,
  type DatasetSummary,
} from "./queries";
import "./runs.css";

export default function NewRunPage() {
  useTitle("New training run");
  const { workspace, canEdit } = useWorkspace();
  return (
    <>
      <div className="page-header">
        <h1>New training run</h1>
      </div>
      {canEdit ? (
        <NewRun workspace={workspace.id} />
      ) : (
        <p className="card">
          You are a viewer in {workspace.name}, so you cannot start runs. An owner or editor can
          start them, or give you the editor role.
        </p>
      )}
    </>
  );
}

function NewRun({ workspace }: { workspace: string }) {
  const datasets = useTrainableDatasets(workspace);
  return (
    <QueryState query={datasets} label="Loading datasets…">
      {(list) =>
        list.length === 0 ? (
          <Empty title="No datasets to train on">
            <p>
              <Link to="/datasets">Upload a dataset</Link> first; once it is ready, its columns fill
              this form.
            </p>
          </Empty>
        ) : (
          <TrainingSetup datasets={list} />
        )
      }
    </QueryState>
  );
}

function TrainingSetup({ datasets }: { datasets: DatasetSummary[] }) {
  const [params, setParams] = useSearchParams();
  const datasetId = params.get("dataset") ?? "";
  const detail = useDatasetDetail(datasetId);
  const modelTypes = useModelTypes();
  const start = useStartRun();
  const navigate = useNavigate();
  const select = useId();
  const errors = start.error instanceof ApiError ? start.error.fields : {};
  // A dataset linked from elsewhere may be past the list's first page: still offer it.
  const listed = datasets.some((d) => d.id === datasetId);
  const options = !listed && detail.data ? [detail.data, ...datasets] : datasets;

  return (
    <section className="card run-setup" aria-label="Run settings">
      <div className="run-field">
        <label htmlFor={select}>Dataset</label>
        <select
          id={select}
          value={datasetId}
          aria-invalid={errors.dataset ? true : undefined}
          aria-describedby={errors.dataset ? `${select}-error` : undefined}
          onChange={(event) => {
            start.reset();
            setParams({ dataset: event.target.value }, { replace: true });
          }}
        >
          {!datasetId && <option value="">Choose a dataset</option>}
          {options.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name}
            </option>
          ))}
        </select>
        {errors.dataset && <FieldErrors id={`${select}-error`} errors={errors.dataset} />}
      </div>
      {!datasetId ? (
        <p className="field-help">Choose a dataset to see its columns.</p>
      ) : detail.isPending || modelTypes.isPending ? (
        <Loading label="Loading the dataset's columns…" />
      ) : detail.error || modelTypes.error ? (
        <ErrorState
          error={detail.error ?? modelTypes.error}
          retry={() => void (detail.error ? detail.refetch() : modelTypes.refetch())}
        />
      ) : (
        <RunForm
          key={datasetId}
          dataset={detail.data!}
          modelTypes={modelTypes.data!.model_types}
          errors={errors}
          pending={start.isPending}
          alert={start.error ? <ErrorSummary error={start.error} /> : null}
          onSubmit={(body) => start.mutate(body, { onSuccess: (run) => navigate(`/runs/${run.id}`) })}
        />
      )}
    </section>
  );
}
