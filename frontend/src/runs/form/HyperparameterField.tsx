// One hyperparameter's input, built from its spec: a number with its bounds, a select of
// its choices, a checkbox, or a list of layer sizes as text ("64, 32").
import { sentence } from "../format";
import type { HyperparameterSpec, Task } from "../queries";
import { Field, type ControlProps } from "./Field";
import { boundsText, type InputValue } from "./hyperparameters";

interface Props {
  spec: HyperparameterSpec;
  task: Task;
  value: InputValue;
  errors?: string[];
  onChange: (value: InputValue) => void;
}

export function HyperparameterField({ spec, task, value, errors, onChange }: Props) {
  const bounds = spec.kind === "choice" || spec.kind === "bool" ? "" : boundsText(spec, task);
  const help = [spec.help && sentence(spec.help), bounds].filter(Boolean).join(" ");
  return (
    <Field label={spec.name} help={help || undefined} errors={errors} inline={spec.kind === "bool"}>
      {(control) => <Control spec={spec} task={task} value={value} onChange={onChange} control={control} />}
    </Field>
  );
}

function Control({
  spec,
  task,
  value,
  onChange,
  control,
}: Omit<Props, "errors"> & { control: ControlProps }) {
  const name = `hyperparameters.${spec.name}`;
  if (spec.kind === "bool") {
    return (
      <input
        {...control}
        name={name}
        type="checkbox"
        checked={value === true}
        onChange={(event) => onChange(event.target.checked)}
      />
    );
  }
  const text = typeof value === "string" ? value : "";
  if (spec.kind === "choice") {
    return (
      <select {...control} name={name} value={text} onChange={(event) => onChange(event.target.value)}>
        {spec.nullable && <option value="">None</option>}
        {(spec.choices[task] ?? []).map((choice) => (
          <option key={choice} value={choice}>
            {choice}
          </option>
        ))}
      </select>
    );
  }
  if (spec.kind === "int" || spec.kind === "float") {
    return (
      <input
        {...control}
        name={name}
        type="number"
        inputMode={spec.kind === "int" ? "numeric" : "decimal"}
        min={spec.minimum ?? undefined}
        max={spec.maximum ?? undefined}
        step={spec.kind === "int" ? 1 : "any"}
        value={text}
        onChange={(event) => onChange(event.target.value)}
      />
    );
  }
  // int_list ("64, 32") and max_features ("sqrt", "log2" or a fraction) are typed as text.
  const listId = `${control.id}-choices`;
  const choices = spec.kind === "max_features" ? (spec.choices[task] ?? []) : [];
  return (
    <>
      <input
        {...control}
        name={name}
        type="text"
        list={choices.length ? listId : undefined}
        placeholder={spec.kind === "int_list" ? "64, 32" : undefined}
        value={text}
        onChange={(event) => onChange(event.target.value)}
      />
      {choices.length > 0 && (
        <datalist id={listId}>
          {choices.map((choice) => (
            <option key={choice} value={choice} />
          ))}
        </datalist>
      )}
    </>
  );
}
