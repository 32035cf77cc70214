// Choosing the runs to compare: one checkbox per run of the workspace, at most six;
// each change rewrites ?runs= so the comparison is a link to share.
import { useId } from "react";
import { Link } from "react-router";
import { QueryState } from "@/components/states";
import { humanise, runLabel, useWorkspaceRuns } from "@/runs/list/runData";
import { StatusBadge } from "@/runs/list/StatusBadge";
import { formatDateTime } from "@/runs/list/time";
import { MAX_RUNS } from "./compareData";

export function RunPicker({ selected, onChange }: { selected: string[]; onChange: (ids: string[]) => void }) {
  const runs = useWorkspaceRuns();
  const id = useId();
  const full = selected.length >= MAX_RUNS;
  const toggle = (runId: string) =>
    onChange(selected.includes(runId) ? selected.filter((s) => s !== runId) : [...selected, runId]);
  return (
    <fieldset className="run-picker" aria-describedby={`${id}-count`}>
      <legend>Runs to compare</legend>
      <p id={`${id}-count`} className="field-help" role="status">
        {selected.length} of at most {MAX_RUNS} selected{full ? "; clear one to choose another." : "."}
      </p>
      <QueryState query={runs} label="Loading runs…">
        {(list) =>
          list.length === 0 ? (
            <p>
              No runs in this workspace yet. <Link to="/runs/new">Train a model</Link>
            </p>
          ) : (
            <ul>
              {list.map((run) => {
                const checked = selected.includes(run.id);
                const box = `${id}-${run.id}`;
                return (
                  <li key={run.id}>
                    <input
                      type="checkbox"
                      id={box}
                      aria-label={`Select ${runLabel(run)}`}
                      checked={checked}
                      disabled={full && !checked}
                      onChange={() => toggle(run.id)}
                    />
                    <label htmlFor={box}>{runLabel(run)}</label>
                    <StatusBadge status={run.status} />
                    <span className="run-picker-meta">
                      {humanise(run.model_type)} · {formatDateTime(run.created_at)}
                    </span>
                  </li>
                );
              })}
            </ul>
          )
        }
      </QueryState>
    </fieldset>
  );
}
