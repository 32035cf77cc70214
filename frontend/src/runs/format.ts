// Words for the engine's names: "neural_network" reads as "Neural network".

export function humanize(name: string): string {
  const words = name.replace(/_/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : words;
}

/** "maximum tree depth" -> "Maximum tree depth." */
export function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return trimmed;
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** A class label or other cell value as text; null (a NaN in the data) shows as such. */
export function valueText(value: unknown): string {
  if (value === null || value === undefined) return "(missing)";
  return String(value);
}
