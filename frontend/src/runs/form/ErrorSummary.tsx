// What the server refused, in one alert: each field's message under the field's own label
// (the same messages also sit next to their fields).
import { ApiError } from "@/api/client";

const LABELS: Record<string, string> = {
  dataset: "Dataset",
  target: "Target",
  model_type: "Model type",
  task: "Task",
  features: "Features",
  include_identifiers: "Features",
  group_column: "Group column",
  positive_class: "Positive class",
  hyperparameters: "Hyperparameters",
  name: "Run name",
  test_size: "Test size",
  random_seed: "Random seed",
};

function labelOf(field: string): string | null {
  if (field === "non_field_errors" || field === "detail") return null;
  if (field.startsWith("hyperparameters.")) return field.slice("hyperparameters.".length);
  return LABELS[field] ?? field;
}

export function ErrorSummary({ error }: { error: unknown }) {
  const fields = error instanceof ApiError ? Object.entries(error.fields) : [];
  const message = error instanceof Error ? error.message : "Something went wrong.";
  return (
    <div role="alert" className="run-error-summary">
      <p>
        <strong>Training could not start.</strong>
        {fields.length === 0 && ` ${message}`}
      </p>
      {fields.length > 0 && (
        <ul>
          {fields.map(([field, messages]) => {
            const label = labelOf(field);
            return (
              <li key={field}>
                {label && `${label}: `}
                {messages.join(" ")}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
