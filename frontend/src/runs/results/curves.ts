// ROC, precision-recall and calibration curves as plain series: one per class (or the
// positive class alone), an average, and the reference line each chart reads against.
import { formatLabel, formatNumber } from "./format";
import type { Calibration, Label, PrCurve, RocCurve } from "./types";

export interface Curve {
  label: string;
  x: number[];
  y: number[];
  /** A reference line (chance, perfect calibration): drawn thin and muted. */
  reference?: boolean;
  /** An average over classes: drawn dashed. */
  average?: boolean;
}

/** Points where both coordinates exist (the engine stores NaN as null). */
function points(xs: (number | null)[], ys: (number | null)[]): Pick<Curve, "x" | "y"> {
  const x: number[] = [];
  const y: number[] = [];
  xs.forEach((value, index) => {
    const other = ys[index];
    if (value !== null && other !== null && other !== undefined) {
      x.push(value);
      y.push(other);
    }
  });
  return { x, y };
}

const DIAGONAL = { x: [0, 1], y: [0, 1], reference: true };

function perClass<T>(table: Record<string, T | null> | undefined): [string, T][] {
  return Object.entries(table ?? {}).filter((entry): entry is [string, T] => entry[1] !== null);
}

export function rocCurves(roc: RocCurve, positiveClass: Label | undefined): Curve[] {
  const classes = perClass(roc.per_class);
  const curves: Curve[] = classes.length
    ? [
        { label: `Macro average (AUC ${formatNumber(roc.auc)})`, ...points(roc.fpr, roc.tpr), average: true },
        ...classes.map(([label, curve]) => ({
          label: `${label} (AUC ${formatNumber(curve.auc)})`,
          ...points(curve.fpr, curve.tpr),
        })),
      ]
    : [{ label: `${formatLabel(positiveClass)} (AUC ${formatNumber(roc.auc)})`, ...points(roc.fpr, roc.tpr) }];
  return [...curves, { label: "Chance", ...DIAGONAL }];
}

export function prCurves(pr: PrCurve, positiveClass: Label | undefined): Curve[] {
  const classes = perClass(pr.per_class);
  if (!classes.length) {
    return [
      {
        label: `${formatLabel(positiveClass)} (PR AUC ${formatNumber(pr.average_precision)})`,
        ...points(pr.recall, pr.precision),
      },
    ];
  }
  return [
    {
      label: `Micro average (PR AUC ${formatNumber(pr.average_precision)})`,
      ...points(pr.recall, pr.precision),
      average: true,
    },
    ...classes.map(([label, curve]) => ({
      label: `${label} (PR AUC ${formatNumber(curve.average_precision)})`,
      ...points(curve.recall, curve.precision),
    })),
  ];
}

export function calibrationCurves(calibration: Calibration, positiveClass: Label | undefined): Curve[] {
  const classes = perClass(calibration.per_class);
  const curves: Curve[] = classes.length
    ? classes.map(([label, curve]) => ({ label, ...points(curve.prob_pred, curve.prob_true) }))
    : [
        {
          label: formatLabel(calibration.positive_class ?? positiveClass),
          ...points(calibration.prob_pred ?? [], calibration.prob_true ?? []),
        },
      ];
  return [...curves, { label: "Perfect calibration", ...DIAGONAL }];
}

/** A short text of a chart's headline numbers, for its caption. */
export function rocSummary(roc: RocCurve, positiveClass: Label | undefined): string {
  const classes = perClass(roc.per_class);
  if (!classes.length) return `AUC ${formatNumber(roc.auc)} for ${formatLabel(positiveClass)}.`;
  return `Macro-average AUC ${formatNumber(roc.auc)}; one-vs-rest per class: ${classes
    .map(([label, curve]) => `${label} ${formatNumber(curve.auc)}`)
    .join(", ")}.`;
}

export function prSummary(pr: PrCurve, positiveClass: Label | undefined): string {
  const classes = perClass(pr.per_class);
  if (!classes.length) {
    return `PR AUC (average precision) ${formatNumber(pr.average_precision)} for ${formatLabel(positiveClass)}.`;
  }
  return `Micro-average PR AUC ${formatNumber(pr.average_precision)}; per class: ${classes
    .map(([label, curve]) => `${label} ${formatNumber(curve.average_precision)}`)
    .join(", ")}.`;
}
