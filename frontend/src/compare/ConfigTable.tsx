// The runs' configurations side by side; a row whose values differ is marked in words
// ("Differs"), not by colour alone.
import { useModelTypes } from "@/runs/queries";
import { configRows } from "./compareData";
import { RunHeader } from "./RunHeader";
import type { Run } from "@/runs/list/runData";

export function ConfigTable({ runs, datasetNames }: { runs: Run[]; datasetNames: ReadonlyMap<string, string> | undefined }) {
  const specs = useModelTypes().data?.model_types;
  const rows = configRows(runs, datasetNames, specs);
  return (
    <div className="compare-table-wrap">
      <table aria-label="Configuration" className="compare-table">
        <thead>
          <tr>
            <th scope="col">Setting</th>
            {runs.map((run, i) => (
              <RunHeader key={run.id} run={run} index={i} />
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.label} className={row.differs ? "differs" : undefined}>
              <th scope="row">
                {row.label}
                {row.differs && <span className="differs-badge">Differs</span>}
              </th>
              {row.values.map((value, i) => (
                <td key={runs[i].id}>{value}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
