// The training form for one dataset: target, model type and task from the engine's own
// list, features (identifiers left out, and said so), subgroups, the positive class and
// the decision threshold's rule, cross-validation and hyperparameters.
// Remounted (keyed by dataset) when the dataset changes, so its state starts afresh.
import { useId, useState, type FormEvent, type ReactNode } from "react";
import { humanize, valueText } from "../format";
import type { Dataset, HyperparameterSpec, ModelTypeSpec, RunStartRequest, Task } from "../queries";
import {
  eventLabelIndex,
  initialExcluded,
  initialTarget,
  isBinary,
  modelTypeFor,
  taskFor,
} from "./choices";
import { FeaturesFieldset } from "./FeaturesFieldset";
import { Field } from "./Field";
import { HyperparameterField } from "./HyperparameterField";
import { defaultValue, inputText, parseInput, type InputValue } from "./hyperparameters";

export type FieldErrorMap = Record<string, string[]>;

interface RunFormProps {
  dataset: Dataset;
  modelTypes: ModelTypeSpec[];
  errors: FieldErrorMap;
  pending: boolean;
  /** The server's refusal, shown above the button. */
  alert: ReactNode;
  onSubmit: (body: RunStartRequest) => void;
}

const TEST_SIZE = "0.2";
const RANDOM_SEED = "42";
const AT_LEAST = "0.9";

type RuleKind = "youden" | "sensitivity" | "specificity" | "0.5";

const RULES: { kind: RuleKind; text: string }[] = [
  { kind: "youden", text: "Youden's J: sensitivity + specificity − 1 at its highest (default)" },
  { kind: "sensitivity", text: "Sensitivity at least…" },
  { kind: "specificity", text: "Specificity at least…" },
  { kind: "0.5", text: "Fixed at 0.5" },
];

export function RunForm({ dataset, modelTypes, errors, pending, alert, onSubmit }: RunFormProps) {
  const hpErrors = useId();
  const [target, setTarget] = useState(() => initialTarget(dataset));
  const [task, setTask] = useState<Task>(() => taskFor(dataset, target));
  const [modelType, setModelType] = useState(() => modelTypeFor(modelTypes, task));
  const [excluded, setExcluded] = useState(() => initialExcluded(dataset));
  const [groupColumn, setGroupColumn] = useState("");
  const [positiveClass, setPositiveClass] = useState("");
  const [ruleKind, setRuleKind] = useState<RuleKind>("youden");
  const [atLeast, setAtLeast] = useState(AT_LEAST);
  const [cvFolds, setCvFolds] = useState("");
  // Edits apply to one model type and task; another choice starts from its defaults.
  const paramsKey = `${modelType}:${task}`;
  const [edits, setEdits] = useState<{ key: string; values: Record<string, InputValue> }>({
    key: paramsKey,
    values: {},
  });
  const [name, setName] = useState("");
  const [testSize, setTestSize] = useState(TEST_SIZE);
  const [seed, setSeed] = useState(RANDOM_SEED);

  const spec = modelTypes.find((m) => m.model_type === modelType);
  const params = (spec?.hyperparameters ?? []).filter((p) => p.tasks.includes(task));
  const values = edits.key === paramsKey ? edits.values : {};
  const valueOf = (param: HyperparameterSpec) =>
    values[param.name] ?? inputText(param, defaultValue(param, task));
  const targetColumn = dataset.columns.find((c) => c.name === target);
  const binary = isBinary(targetColumn, task);
  const eventIndex = eventLabelIndex(targetColumn);
  const others = dataset.columns.filter((c) => c.name !== target);

  function chooseTarget(next: string) {
    const nextTask = taskFor(dataset, next);
    setTarget(next);
    setTask(nextTask);
    setModelType(modelTypeFor(modelTypes, nextTask, modelType));
    setPositiveClass("");
    if (groupColumn === next) setGroupColumn("");
  }

  function chooseModelType(next: string) {
    setModelType(next);
    const nextSpec = modelTypes.find((m) => m.model_type === next);
    if (nextSpec && !nextSpec.tasks.includes(task)) setTask(nextSpec.tasks[0]);
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const hyperparameters: NonNullable<RunStartRequest["hyperparameters"]> = {};
    for (const param of params) {
      const value = parseInput(param, valueOf(param), task);
      if (value !== undefined) hyperparameters[param.name] = value;
    }
    const body: RunStartRequest = {
      dataset: dataset.id,
      target,
      // The engine's list and the start request's enum are the same names.
      model_type: modelType as RunStartRequest["model_type"],
      task,
      hyperparameters,
      test_size: Number(testSize),
      random_seed: Number(seed),
    };
    if (name.trim()) body.name = name.trim();
    if (groupColumn) body.group_column = groupColumn;
    if (binary && positiveClass !== "") body.positive_class = targetColumn?.top[Number(positiveClass)]?.value;
    if (binary) body.threshold_rule = ruleKind === "youden" || ruleKind === "0.5" ? ruleKind : `${ruleKind}>=${atLeast}`;
    if (cvFolds !== "") body.cv_folds = Number(cvFolds);
    // The engine leaves flagged identifiers out by itself: name the other columns left
    // out, and the flagged ones the user chose to keep.
    const exclude = others.filter((c) => excluded.has(c.name) && !c.likely_identifier).map((c) => c.name);
    const include = others.filter((c) => !excluded.has(c.name) && c.likely_identifier).map((c) => c.name);
    if (exclude.length) body.exclude = exclude;
    if (include.length) body.include = include;
    onSubmit(body);
  }

  return (
    <form className="run-form" onSubmit={submit}>
      <Field label="Target" help={targetHelp(dataset, target)} errors={errors.target}>
        {(control) => (
          <select {...control} name="target" value={target} onChange={(e) => chooseTarget(e.target.value)}>
            <TargetOptions dataset={dataset} />
          </select>
        )}
      </Field>
      <div className="run-form-row">
        <Field label="Model type" errors={errors.model_type}>
          {(control) => (
            <select {...control} name="model_type" value={modelType} onChange={(e) => chooseModelType(e.target.value)}>
              {modelTypes.map((m) => (
                <option key={m.model_type} value={m.model_type}>
                  {humanize(m.model_type)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Task" errors={errors.task}>
          {(control) => (
            <select {...control} name="task" value={task} onChange={(e) => setTask(e.target.value as Task)}>
              {(spec?.tasks ?? [task]).map((t) => (
                <option key={t} value={t}>
                  {humanize(t)}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>

      <FeaturesFieldset
        columns={others}
        excluded={excluded}
        onChange={setExcluded}
        errors={[...(errors.features ?? []), ...(errors.exclude ?? []), ...(errors.include ?? [])]}
      />

      <div className="run-form-row">
        <Field
          label="Group column (optional)"
          help="Metrics are also reported for each group of this column (e.g. sex or site)."
          errors={errors.group_column}
        >
          {(control) => (
            <select {...control} name="group_column" value={groupColumn} onChange={(e) => setGroupColumn(e.target.value)}>
              <option value="">None</option>
              {others.map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        {binary && targetColumn && (
          <Field
            label="Positive class"
            help="The event: the class that sensitivity, ROC and precision-recall refer to."
            errors={errors.positive_class}
          >
            {(control) => (
              <select
                {...control}
                name="positive_class"
                required={eventIndex === null}
                value={positiveClass}
                onChange={(e) => setPositiveClass(e.target.value)}
              >
                <option value="">
                  {eventIndex === null
                    ? "Choose the class that is the event"
                    : `${valueText(targetColumn.top[eventIndex].value)} (the event label, default)`}
                </option>
                {targetColumn.top.map((top, index) => (
                  <option key={index} value={String(index)}>
                    {valueText(top.value)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
      </div>

      {binary && (
        <div className="run-form-row">
          <Field
            label="Decision threshold"
            help="Chosen on out-of-fold predictions over the training rows; predict uses it, and the results report it beside 0.5."
            errors={errors.threshold_rule}
          >
            {(control) => (
              <select {...control} name="threshold_rule" value={ruleKind} onChange={(e) => setRuleKind(e.target.value as RuleKind)}>
                {RULES.map((rule) => (
                  <option key={rule.kind} value={rule.kind}>
                    {rule.text}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {(ruleKind === "sensitivity" || ruleKind === "specificity") && (
            <Field label={`Lowest ${ruleKind}`} help="Between 0.5 and 0.99.">
              {(control) => (
                <input
                  {...control}
                  name="threshold_at_least"
                  type="number"
                  required
                  min={0.5}
                  max={0.99}
                  step={0.01}
                  value={atLeast}
                  onChange={(e) => setAtLeast(e.target.value)}
                />
              )}
            </Field>
          )}
        </div>
      )}

      <div className="run-form-row">
        <Field
          label="Cross-validation folds (optional)"
          help="2 to 10: also reports each metric's mean and standard deviation over the folds. Empty: none."
          errors={errors.cv_folds}
        >
          {(control) => (
            <input
              {...control}
              name="cv_folds"
              type="number"
              min={2}
              max={10}
              step={1}
              value={cvFolds}
              onChange={(e) => setCvFolds(e.target.value)}
            />
          )}
        </Field>
      </div>

      <fieldset className="run-hyperparameters" aria-describedby={errors.hyperparameters ? hpErrors : undefined}>
        <legend>Hyperparameters</legend>
        {errors.hyperparameters && (
          <p id={hpErrors} className="error">
            {errors.hyperparameters.join(" ")}
          </p>
        )}
        {params.length === 0 ? (
          <p className="field-help">This model type has no hyperparameters for this task.</p>
        ) : (
          <div className="run-hyperparameter-grid">
            {params.map((param) => (
              <HyperparameterField
                key={`${paramsKey}:${param.name}`}
                spec={param}
                task={task}
                value={valueOf(param)}
                errors={errors[`hyperparameters.${param.name}`]}
                onChange={(value) =>
                  setEdits({ key: paramsKey, values: { ...values, [param.name]: value } })
                }
              />
            ))}
          </div>
        )}
      </fieldset>

      <div className="run-form-row">
        <Field label="Run name" help="Optional." errors={errors.name}>
          {(control) => (
            <input {...control} name="name" type="text" maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
          )}
        </Field>
        <Field label="Test size" help="Share of rows held out for testing, 0.05 to 0.5." errors={errors.test_size}>
          {(control) => (
            <input
              {...control}
              name="test_size"
              type="number"
              min={0.05}
              max={0.5}
              step={0.05}
              value={testSize}
              onChange={(e) => setTestSize(e.target.value)}
            />
          )}
        </Field>
        <Field label="Random seed" help="The same seed gives the same split." errors={errors.random_seed}>
          {(control) => (
            <input
              {...control}
              name="random_seed"
              type="number"
              min={0}
              max={2 ** 32 - 1}
              step={1}
              value={seed}
              onChange={(e) => setSeed(e.target.value)}
            />
          )}
        </Field>
      </div>

      {alert}
      <div className="actions run-form-actions">
        <button type="submit" className="primary" disabled={pending}>
          Start training
        </button>
      </div>
    </form>
  );
}

function TargetOptions({ dataset }: { dataset: Dataset }) {
  const suggested = new Set(dataset.suggested_targets.map((s) => s.column));
  const rest = dataset.columns.filter((c) => !suggested.has(c.name));
  if (suggested.size === 0) {
    return rest.map((c) => (
      <option key={c.name} value={c.name}>
        {c.name}
      </option>
    ));
  }
  return (
    <>
      <optgroup label="Suggested">
        {dataset.suggested_targets.map((s) => (
          <option key={s.column} value={s.column}>
            {s.column}
          </option>
        ))}
      </optgroup>
      <optgroup label="Other columns">
        {rest.map((c) => (
          <option key={c.name} value={c.name}>
            {c.name}
          </option>
        ))}
      </optgroup>
    </>
  );
}

function targetHelp(dataset: Dataset, target: string): string | undefined {
  const suggestion = dataset.suggested_targets.find((s) => s.column === target);
  if (!suggestion) return undefined;
  const classes = suggestion.classes ? `, ${suggestion.classes} classes` : "";
  return `Suggested for ${suggestion.task}${classes}: ${suggestion.reason}`;
}
