// One labelled form field: its label, the control, a description and its errors, wired
// together by id so a screen reader reads them with the control.
import { useId, type ReactNode } from "react";

export interface ControlProps {
  id: string;
  "aria-describedby"?: string;
  "aria-invalid"?: true;
}

interface FieldProps {
  label: ReactNode;
  help?: ReactNode;
  errors?: string[];
  /** Checkboxes: the box before its label. */
  inline?: boolean;
  children: (control: ControlProps) => ReactNode;
}

export function Field({ label, help, errors, inline = false, children }: FieldProps) {
  const id = useId();
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const described = [help ? helpId : null, errors?.length ? errorId : null].filter(Boolean).join(" ");
  const control = children({
    id,
    ...(described ? { "aria-describedby": described } : {}),
    ...(errors?.length ? { "aria-invalid": true as const } : {}),
  });
  return (
    <div className={inline ? "run-field run-field-inline" : "run-field"}>
      {inline ? (
        <>
          {control}
          <label htmlFor={id}>{label}</label>
        </>
      ) : (
        <>
          <label htmlFor={id}>{label}</label>
          {control}
        </>
      )}
      {help && (
        <p id={helpId} className="field-help">
          {help}
        </p>
      )}
      {errors?.length ? <FieldErrors id={errorId} errors={errors} /> : null}
    </div>
  );
}

export function FieldErrors({ id, errors }: { id?: string; errors: string[] }) {
  return (
    <p id={id} className="error">
      {errors.join(" ")}
    </p>
  );
}
