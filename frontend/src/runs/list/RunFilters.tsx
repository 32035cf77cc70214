// The filters above the runs table. Status filters on the server; dataset and model type
// have no server filter, so the page filters the fetched runs by them.
import { useId } from "react";
import { humanise, RUN_STATUSES } from "./runData";

export interface Filters {
  dataset: string;
  modelType: string;
  status: string;
}

export const NO_FILTERS: Filters = { dataset: "", modelType: "", status: "" };

/** The value for runs whose dataset was deleted (their `dataset` is null). */
export const DELETED_DATASET = "deleted";

export function RunFilters({
  filters,
  datasets,
  modelTypes,
  onChange,
}: {
  filters: Filters;
  datasets: { value: string; label: string }[];
  modelTypes: string[];
  onChange: (next: Filters) => void;
}) {
  const id = useId();
  const set = (name: keyof Filters) => (event: React.ChangeEvent<HTMLSelectElement>) =>
    onChange({ ...filters, [name]: event.target.value });
  const filtered = filters.dataset || filters.modelType || filters.status;
  return (
    <fieldset className="run-filters">
      <legend className="visually-hidden">Filter runs</legend>
      <div>
        <label htmlFor={`${id}-dataset`}>Dataset</label>
        <select id={`${id}-dataset`} value={filters.dataset} onChange={set("dataset")}>
          <option value="">All datasets</option>
          {datasets.map((d) => (
            <option key={d.value} value={d.value}>
              {d.label}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor={`${id}-model`}>Model type</label>
        <select id={`${id}-model`} value={filters.modelType} onChange={set("modelType")}>
          <option value="">All model types</option>
          {modelTypes.map((type) => (
            <option key={type} value={type}>
              {humanise(type)}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor={`${id}-status`}>Status</label>
        <select id={`${id}-status`} value={filters.status} onChange={set("status")}>
          <option value="">All statuses</option>
          {RUN_STATUSES.map((status) => (
            <option key={status} value={status}>
              {humanise(status)}
            </option>
          ))}
        </select>
      </div>
      {filtered && (
        <button type="button" onClick={() => onChange(NO_FILTERS)}>
          Clear filters
        </button>
      )}
    </fieldset>
  );
}
