// The features: one checkbox per column but the target. Likely identifiers (PHI) start
// unchecked and say so; checking one is a deliberate choice. What is left out is listed
// with its reason before the run starts, as the run will record it.
import { useId } from "react";
import type { Dataset } from "../queries";
import { exclusionReasons } from "./choices";
import { FieldErrors } from "./Field";

type Column = Dataset["columns"][number];

interface Props {
  columns: Column[];
  excluded: Set<string>;
  onChange: (excluded: Set<string>) => void;
  errors: string[];
}

export function FeaturesFieldset({ columns, excluded, onChange, errors }: Props) {
  const id = useId();
  const chosen = columns.filter((c) => !excluded.has(c.name)).length;
  const leftOut = exclusionReasons(columns, excluded);
  const toggle = (name: string, checked: boolean) => {
    const next = new Set(excluded);
    if (checked) next.delete(name);
    else next.add(name);
    onChange(next);
  };
  return (
    <fieldset className="run-features" aria-describedby={`${id}-count${errors.length ? ` ${id}-errors` : ""}`}>
      <legend>Features</legend>
      <p id={`${id}-count`} className="field-help">
        {chosen} of {columns.length} columns chosen.
      </p>
      <div className="run-features-actions">
        <button
          type="button"
          onClick={() => onChange(new Set(columns.filter((c) => c.likely_identifier).map((c) => c.name)))}
        >
          Select all but identifiers
        </button>
        <button type="button" onClick={() => onChange(new Set(columns.map((c) => c.name)))}>
          Clear features
        </button>
      </div>
      {errors.length > 0 && <FieldErrors id={`${id}-errors`} errors={errors} />}
      <ul className="run-feature-list">
        {columns.map((column, index) => {
          const box = `${id}-${index}`;
          return (
            <li key={column.name}>
              <input
                id={box}
                type="checkbox"
                name="features"
                value={column.name}
                checked={!excluded.has(column.name)}
                onChange={(event) => toggle(column.name, event.target.checked)}
                aria-describedby={column.likely_identifier ? `${box}-identifier` : undefined}
              />
              <label htmlFor={box}>{column.name}</label>
              {column.likely_identifier && (
                <span id={`${box}-identifier`} className="badge run-identifier">
                  Likely identifier
                  {column.identifier_reason && <span className="visually-hidden">: {column.identifier_reason}</span>}
                </span>
              )}
            </li>
          );
        })}
      </ul>
      <div className="run-left-out" role="region" aria-labelledby={`${id}-left-out`}>
        <h3 id={`${id}-left-out`}>Left out of this run</h3>
        {leftOut.length === 0 ? (
          <p className="field-help">Nothing: every column but the target is a feature.</p>
        ) : (
          <ul>
            {leftOut.map(({ name, reason }) => (
              <li key={name}>
                <span className="run-left-out-name">{name}</span>: {reason}
              </li>
            ))}
          </ul>
        )}
      </div>
    </fieldset>
  );
}
