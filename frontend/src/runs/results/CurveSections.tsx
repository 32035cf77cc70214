// The threshold-free views of a classifier: ROC, precision-recall and calibration.
import { lazy, useMemo, type ReactNode } from "react";
import { calibrationCurves, prCurves, prSummary, rocCurves, rocSummary, type Curve } from "./curves";
import { formatLabel } from "./format";
import { ChartFrame, NoData, ResultSection } from "./ResultSection";
import type { Calibration, Label, PrCurve, RocCurve } from "./types";

const CurveChart = lazy(() => import("./CurveChart"));

function CurveFigure(props: { curves: Curve[]; label: string; xLabel: string; yLabel: string; caption: ReactNode }) {
  const { caption, ...chart } = props;
  return (
    <figure className="results-figure">
      <ChartFrame>
        <CurveChart {...chart} />
      </ChartFrame>
      <figcaption>{caption}</figcaption>
    </figure>
  );
}

export function RocSection({ roc, positiveClass }: { roc: RocCurve | null; positiveClass: Label | undefined }) {
  const curves = useMemo(() => (roc ? rocCurves(roc, positiveClass) : []), [roc, positiveClass]);
  return (
    <ResultSection title="ROC curve">
      {!roc ? (
        <NoData>No ROC curve: the test split holds only one class.</NoData>
      ) : (
        <CurveFigure
          curves={curves}
          label="ROC curve"
          xLabel="False positive rate (1 − specificity)"
          yLabel="True positive rate (sensitivity)"
          caption={`${rocSummary(roc, positiveClass)} The dashed diagonal is chance.`}
        />
      )}
    </ResultSection>
  );
}

export function PrSection({ pr, positiveClass }: { pr: PrCurve | null; positiveClass: Label | undefined }) {
  const curves = useMemo(() => (pr ? prCurves(pr, positiveClass) : []), [pr, positiveClass]);
  return (
    <ResultSection title="Precision–recall curve">
      {!pr ? (
        <NoData>No precision–recall curve: the test split holds only one class.</NoData>
      ) : (
        <CurveFigure
          curves={curves}
          label="Precision-recall curve"
          xLabel="Recall (sensitivity)"
          yLabel="Precision (PPV)"
          caption={prSummary(pr, positiveClass)}
        />
      )}
    </ResultSection>
  );
}

export function CalibrationSection({
  calibration,
  positiveClass,
}: {
  calibration: Calibration;
  positiveClass: Label | undefined;
}) {
  const curves = useMemo(() => calibrationCurves(calibration, positiveClass), [calibration, positiveClass]);
  const drawn = curves.some((curve) => !curve.reference && curve.x.length > 0);
  const of = calibration.per_class ? "each class" : formatLabel(calibration.positive_class ?? positiveClass);
  return (
    <ResultSection title="Calibration">
      {!drawn ? (
        <NoData>No calibration curve: too few test rows.</NoData>
      ) : (
        <CurveFigure
          curves={curves}
          label="Calibration curve"
          xLabel="Mean predicted probability"
          yLabel="Observed frequency"
          caption={`Predicted probability of ${of} against how often it was the true class, in ${calibration.n_bins} equal-width bins; the dashed diagonal is perfect calibration.`}
        />
      )}
    </ResultSection>
  );
}
