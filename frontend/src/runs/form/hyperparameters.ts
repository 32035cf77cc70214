// Hyperparameters between the engine's specs (GET /api/train/model-types/) and the form:
// each value as the input shows it, and back to the JSON the engine checks.
import type { HyperparameterSpec, Task } from "../queries";

export type HyperparameterValue = HyperparameterSpec["default"][string];
/** What an input holds: text for numbers, lists and choices; a flag for bools. */
export type InputValue = string | boolean;

export function defaultValue(spec: HyperparameterSpec, task: Task): HyperparameterValue {
  return spec.default[task] ?? null;
}

export function inputText(spec: HyperparameterSpec, value: HyperparameterValue): InputValue {
  if (spec.kind === "bool") return value === true;
  if (value === null) return "";
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

/**
 * The value to send, or undefined to leave the engine's default. Text the engine would
 * refuse is sent as typed, so its own message says what is wrong next to the field.
 */
export function parseInput(spec: HyperparameterSpec, input: InputValue, task: Task): HyperparameterValue | undefined {
  const value = toValue(spec, input, task);
  if (value === undefined) return undefined;
  return JSON.stringify(value) === JSON.stringify(defaultValue(spec, task)) ? undefined : value;
}

function toValue(spec: HyperparameterSpec, input: InputValue, task: Task): HyperparameterValue | undefined {
  if (typeof input === "boolean") return input;
  const text = input.trim();
  const empty = spec.nullable ? null : undefined;
  switch (spec.kind) {
    case "choice":
      return text === "" ? empty : text;
    case "int_list": {
      if (text === "") return spec.nullable ? null : [];
      const units = text.split(/[\s,]+/).filter(Boolean).map(Number);
      return units.every(Number.isInteger) ? units : text;
    }
    case "max_features": {
      if (text === "") return empty;
      if ((spec.choices[task] ?? []).includes(text)) return text;
      const fraction = Number(text);
      // JSON cannot tell 1.0 from 1, and the engine reads 1 as a count: 1.0 and null both
      // mean every feature, so a whole fraction is sent as null.
      if (fraction === 1 && spec.nullable) return null;
      return Number.isNaN(fraction) ? text : fraction;
    }
    default: {
      if (text === "") return empty;
      const number = Number(text);
      return Number.isNaN(number) ? text : number;
    }
  }
}

/** The bounds in words, e.g. "From 1 to 1000." or "Above 0, at most 10." */
export function boundsText(spec: HyperparameterSpec, task: Task): string {
  const { minimum, maximum } = spec;
  const parts: string[] = [];
  if (minimum !== null) parts.push(`${spec.exclusive_minimum ? "above" : "at least"} ${minimum}`);
  if (maximum !== null) parts.push(`${spec.exclusive_maximum ? "below" : "at most"} ${maximum}`);
  let text = parts.join(", ");
  if (spec.kind === "int_list") text = `Whole numbers separated by commas${text ? `, each ${text}` : ""}`;
  else if (spec.kind === "int" && text) text = `A whole number, ${text}`;
  else if (spec.kind === "max_features") text = `${(spec.choices[task] ?? []).join(", ")} or a fraction above 0, at most 1`;
  if (!text) return spec.nullable ? "Empty for none." : "";
  text = text[0].toUpperCase() + text.slice(1);
  return `${text}.${spec.nullable ? " Empty for none." : ""}`;
}
