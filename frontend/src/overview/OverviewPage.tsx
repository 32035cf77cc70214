// /: the workspace at a glance — its newest runs, datasets and models, and its members —
// each card inviting the next step while it is empty.
import { useQuery } from "@tanstack/react-query";
import { useId, type ReactNode } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schemas } from "@/api/client";
import { QueryState } from "@/components/states";
import { useTitle } from "@/components/useTitle";
import { humanise, pollWhileActive, runLabel } from "@/runs/list/runData";
import { StatusBadge as UploadStatusBadge } from "@/datasets/StatusBadge";
import { StatusBadge } from "@/runs/list/StatusBadge";
import { formatDateTime } from "@/runs/list/time";
import { useWorkspace } from "@/workspace/WorkspaceContext";
import "./overview.css";

const NEWEST = 5;

export default function OverviewPage() {
  const { workspace } = useWorkspace();
  useTitle(workspace.name);
  return (
    <>
      <p className="overview-kicker">Overview</p>
      <h1>{workspace.name}</h1>
      <div className="grid overview-grid">
        <RecentRuns />
        <RecentDatasets />
        <RecentModels />
        <Members />
      </div>
    </>
  );
}

function Card({ title, children }: { title: string; children: ReactNode }) {
  const id = useId();
  return (
    <section className="card overview-card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

function RecentRuns() {
  const { workspace, canEdit } = useWorkspace();
  const runs = useQuery({
    queryKey: ["runs", workspace.id, "recent"],
    queryFn: () => {
      const query = { workspace: workspace.id, page_size: NEWEST };
      return unwrap(api.GET("/api/train/", { params: { query } }));
    },
    refetchInterval: (query) => pollWhileActive(query.state.data?.results),
  });
  return (
    <Card title="Recent runs">
      <QueryState query={runs} label="Loading runs…">
        {({ results }) =>
          results.length === 0 ? (
            <p className="overview-empty">
              {canEdit ? <Link to="/runs/new">No runs yet — train a model</Link> : "No runs yet."}
            </p>
          ) : (
            <>
              <ul className="overview-list">
                {results.map((run) => (
                  <li key={run.id}>
                    <Link to={`/runs/${run.id}`}>{runLabel(run)}</Link>
                    <StatusBadge status={run.status} />
                    <span className="overview-meta">
                      {humanise(run.model_type)} · {formatDateTime(run.created_at)}
                    </span>
                  </li>
                ))}
              </ul>
              <Link to="/runs">All runs</Link>
            </>
          )
        }
      </QueryState>
    </Card>
  );
}

function RecentDatasets() {
  const { workspace, canEdit } = useWorkspace();
  const datasets = useQuery({
    queryKey: ["datasets", workspace.id, "recent"],
    queryFn: () => unwrap(api.GET("/api/data/", { params: { query: { workspace: workspace.id, page_size: NEWEST } } })),
  });
  return (
    <Card title="Datasets">
      <QueryState query={datasets} label="Loading datasets…">
        {({ results }) => (
          <>
            {results.length === 0 ? (
              <p className="overview-empty">No datasets yet.</p>
            ) : (
              <ul className="overview-list">
                {results.map((dataset) => (
                  <li key={dataset.id}>
                    <Link to={`/datasets/${dataset.id}`}>{dataset.name}</Link>
                    <span className="overview-meta">
                      {dataset.rows.toLocaleString()} rows · {dataset.n_columns.toLocaleString()} columns
                    </span>
                  </li>
                ))}
              </ul>
            )}
            <Link to="/datasets">{canEdit ? "Upload a dataset" : "All datasets"}</Link>
          </>
        )}
      </QueryState>
    </Card>
  );
}

function RecentModels() {
  const { workspace } = useWorkspace();
  const models = useQuery({
    queryKey: ["models", workspace.id, "recent"],
    queryFn: () =>
      unwrap(
        api.GET("/api/models/", {
          params: { query: { workspace: workspace.id, page_size: NEWEST, ordering: "-created_at" } },
        }),
      ),
  });
  return (
    <Card title="Models">
      <QueryState query={models} label="Loading models…">
        {({ results }) =>
          results.length === 0 ? (
            <p className="overview-empty">No models yet — a run that finishes registers its model here.</p>
          ) : (
            <ul className="overview-list">
              {results.map((model) => (
                <li key={model.id}>
                  <span className="overview-name">{model.name}</span>
                  <span className="badge">v{model.version}</span>
                  {model.status !== "ready" && <UploadStatusBadge status={model.status} />}
                  <span className="overview-meta">{modelMeta(model)}</span>
                </li>
              ))}
            </ul>
          )
        }
      </QueryState>
    </Card>
  );
}

/** What the list says of a model: its task, or how far its upload has got. */
function modelMeta(model: Schemas["ModelArtifact"]): string {
  if (model.status === "rejected") return model.error;
  const what = model.status === "processing" ? "uploaded, being checked" : model.task;
  return `${what} · ${formatDateTime(model.created_at)}`;
}

function Members() {
  const { workspace } = useWorkspace();
  const detail = useQuery({
    queryKey: ["workspaces", workspace.id, "members"],
    queryFn: () => unwrap(api.GET("/api/workspaces/{id}/", { params: { path: { id: workspace.id } } })),
  });
  return (
    <Card title="Members">
      <QueryState query={detail} label="Loading members…">
        {({ members }) => (
          <>
            <ul className="overview-list">
              {members.map((member) => (
                <li key={member.user_id}>
                  <span className="overview-name">{member.username}</span>
                  <span className={`badge role-${member.role}`}>{member.role}</span>
                </li>
              ))}
            </ul>
            <Link to="/workspace">{workspace.role === "owner" ? "Manage members" : "Workspace"}</Link>
          </>
        )}
      </QueryState>
    </Card>
  );
}
