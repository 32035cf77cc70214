import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { renderScreen, stubFetch } from "@/test/render";
import { binaryResults, mlpGraph, regressionResults } from "./fixtures";
import { RunResults } from "./RunResults";


// jsdom has no canvas and no layout: the chart libraries are stood in for.
vi.mock("echarts/core", () => ({
  use: vi.fn(),
  init: vi.fn(() => ({ setOption: vi.fn(), resize: vi.fn(), dispose: vi.fn() })),
}));
vi.mock("echarts/charts", () => ({ HeatmapChart: {}, BarChart: {} }));
vi.mock("echarts/components", () => ({
  AriaComponent: {},
  GridComponent: {},
  TooltipComponent: {},
  VisualMapComponent: {},
}));
vi.mock("echarts/renderers", () => ({ CanvasRenderer: {} }));
vi.mock("uplot", () => ({
  default: vi.fn(function uPlot() {
    return { setData: vi.fn(), setSize: vi.fn(), destroy: vi.fn() };
  }),
}));
vi.mock("elkjs/lib/elk.bundled.js", () => ({
  default: class {
    layout(graph: { children: { id: string }[] }) {
      return Promise.resolve({
        ...graph,
        children: graph.children.map((child, index) => ({ ...child, x: index * 200, y: 0 })),
      });
    }
  },
}));
vi.mock("@xyflow/react", () => ({
  ReactFlowProvider: ({ children }: { children: ReactNode }) => <>{children}</>,
  ReactFlow: ({ nodes }: { nodes: { id: string; data: { title: string } }[] }) => (
    <ul>
      {nodes.map((node) => (
        <li key={node.id}>{node.data.title}</li>
      ))}
    </ul>
  ),
  Handle: () => null,
  Position: { Left: "left", Right: "right" },
  useReactFlow: () => ({ zoomIn: vi.fn(), zoomOut: vi.fn(), fitView: vi.fn() }),
}));

const RUN = "11111111-1111-4111-8111-111111111111";

function show(answers: Record<string, unknown>) {
  stubFetch(answers);
  return renderScreen(<RunResults runId={RUN} />, { path: "/runs/:id", route: `/runs/${RUN}` });
}

function conflict(detail: string) {
  return new Response(JSON.stringify({ detail, code: "conflict" }), {
    status: 409,
    headers: { "Content-Type": "application/json" },
  });
}

/** A table's row by its header cell (cheaper in jsdom than naming whole rows). */
function row(table: HTMLElement, name: string | RegExp): HTMLElement {
  return within(table).getByRole("rowheader", { name }).closest("tr")!;
}

const cells = (tableRow: HTMLElement) => within(tableRow).getAllByRole("cell").map((cell) => cell.textContent);

// jsdom computes styles slowly, and role queries ask for many: allow for a loaded machine.
describe("RunResults", { timeout: 20_000 }, () => {
  // The charts' code loads on demand; load it once here rather than inside a test's time.
  beforeAll(async () => {
    await Promise.all([
      import("./ConfusionHeatmap"),
      import("./CurveChart"),
      import("./ImportanceBars"),
      import("./NetworkGraph"),
    ]);
  });

  it("lists the clinical metrics at both thresholds, the tuned threshold and the positive class", async () => {
    show({ [`GET /api/train/results/${RUN}/`]: binaryResults });
    const table = await screen.findByRole("table", { name: "Metrics" });
    const rows = within(table).getAllByRole("row").slice(1).map((row) => row.textContent ?? "");
    expect(rows[0]).toMatch(/^Sensitivity/);
    expect(rows[1]).toMatch(/^Specificity/);
    expect(cells(row(table, /Sensitivity/))).toEqual(["0.8571", "0.9286"]);
    expect(cells(row(table, /Specificity/))).toEqual(["0.9452", "0.9167"]);
    expect(cells(row(table, /MCC/))).toEqual(["0.8112", "0.8112"]);
    expect(cells(row(table, "Brier score"))).toEqual(["0.07120 (any threshold)"]);
    expect(within(table).getByRole("columnheader", { name: "At threshold 0.3125 (operating point)" })).toBeInTheDocument();
    expect(screen.getByText("Positive class: malignant")).toBeInTheDocument();
    expect(screen.getByText(/Operating threshold: 0.3125/)).toHaveTextContent(
      /Youden's J .* on out-of-fold predictions over 455 training rows \(5 folds\)/,
    );

    const intervals = screen.getByRole("table", { name: "95% confidence intervals" });
    expect(cells(row(intervals, "ROC AUC"))).toEqual(["0.9712", "0.9401 to 0.9930"]);
    expect(cells(row(intervals, /NPV/))).toEqual(["0.9200", "0.8600 to 0.9700"]);
    expect(cells(row(intervals, "PPV (positive predictive value)"))).toEqual(["0.9000", "0.8100 to 0.9600"]);
    const cv = screen.getByRole("table", { name: "Cross-validation" });
    expect(within(cv).getByText("5-fold cross-validation over 455 training rows")).toBeInTheDocument();
    expect(cells(row(cv, "ROC AUC"))).toEqual(["0.9650", "0.01200"]);
  });

  it("shows every section of a binary classifier, each chart by its name", async () => {
    show({ [`GET /api/train/results/${RUN}/`]: binaryResults });
    await screen.findByRole("table", { name: "Metrics" });
    const headings = screen.getAllByRole("heading", { level: 2 }).map((heading) => heading.textContent);
    expect(headings).toEqual([
      "Metrics",
      "Confusion matrix",
      "ROC curve",
      "Precision–recall curve",
      "Calibration",
      "Feature importance",
      "Columns left out",
      "Subgroups",
    ]);
    await waitFor(() => expect(screen.queryByText("Loading chart…")).not.toBeInTheDocument());
    const charts = screen.getAllByRole("img").map((chart) => chart.getAttribute("aria-label"));
    expect(charts).toEqual([
      "Confusion matrix",
      "ROC curve",
      "Precision-recall curve",
      "Calibration curve",
      "Feature importance",
    ]);
    expect(screen.getByText(/AUC 0.9712 for malignant/)).toBeInTheDocument();
    const subgroups = screen.getByRole("table", { name: "Subgroup metrics" });
    expect(cells(row(subgroups, "(missing)"))).toEqual(["4", "—", "1.000", "—", "1.000", "1.000", "1.000"]);
    const leftOut = screen.getByRole("table", { name: "Columns left out" });
    expect(cells(row(leftOut, "patient_id"))).toEqual(["likely identifier (dataset profile: every value is different)"]);
  });

  it("switches the confusion matrix between counts and normalised shares", async () => {
    const user = userEvent.setup();
    show({ [`GET /api/train/results/${RUN}/`]: binaryResults });
    expect(await screen.findByRole("img", { name: "Confusion matrix" })).toBeInTheDocument();
    await user.click(screen.getAllByText("Table")[0]);
    const table = screen.getByRole("table", { name: /rows are the true class/ });
    const malignant = () => cells(row(table, "True malignant"));
    // First at the operating point, which predict applies.
    expect(screen.getByRole("radio", { name: "0.3125 (operating point)" })).toBeChecked();
    expect(malignant()).toEqual(["3", "39"]);

    await user.click(screen.getByRole("radio", { name: "Normalised" }));
    expect(screen.getByRole("radio", { name: "Normalised" })).toBeChecked();
    expect(malignant()).toEqual(["7.1%", "92.9%"]);

    await user.click(screen.getByRole("radio", { name: "0.5" }));
    expect(malignant()).toEqual(["14.3%", "85.7%"]);
  });

  it("shows R² for a regression run and no classifier views", async () => {
    show({ [`GET /api/train/results/${RUN}/`]: regressionResults });
    const table = await screen.findByRole("table", { name: "Metrics" });
    expect(within(table).getAllByRole("row")[1]).toHaveTextContent("R²0.8123");
    expect(cells(row(table, /MAE/))).toEqual(["2.345"]);
    expect(screen.queryByRole("heading", { name: "Confusion matrix" })).not.toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "ROC curve" })).not.toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "Subgroups" })).not.toBeInTheDocument();
    expect(screen.queryByText(/Positive class/)).not.toBeInTheDocument();
    expect(screen.getByText(/Native importance of the trees/)).toBeInTheDocument();
  });

  it("says the run has not finished when the server answers 409", async () => {
    show({
      [`GET /api/train/results/${RUN}/`]: () => conflict("The run has no results yet (status: running)."),
      [`GET /api/viz/graph/${RUN}/`]: () => conflict("The run has no results yet (status: running)."),
    });
    expect(await screen.findByText(/This run has not finished/)).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("status: running");
    expect(screen.queryByRole("heading", { name: "Network graph" })).not.toBeInTheDocument();
  });

  it("draws the network graph with its layers listed for screen readers", async () => {
    show({ [`GET /api/train/results/${RUN}/`]: binaryResults, [`GET /api/viz/graph/${RUN}/`]: mlpGraph });
    expect(await screen.findByRole("heading", { name: "Network graph" })).toBeInTheDocument();
    const layers = screen.getByRole("list", { name: "Layers" });
    expect(within(layers).getAllByRole("listitem").map((item) => item.textContent)).toEqual([
      "Input (30 features)",
      "Dense 64 · BatchNorm · relu · dropout 0.2",
      "Output (2 classes, softmax)",
    ]);
    expect(await screen.findByRole("img", { name: "Network graph" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Zoom in" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Fit view" })).toBeInTheDocument();
  });

  it("leaves the graph out for a model without one (404)", async () => {
    show({ [`GET /api/train/results/${RUN}/`]: regressionResults });
    await screen.findByRole("table", { name: "Metrics" });
    await waitFor(() => expect(screen.queryByText("Loading the graph…")).not.toBeInTheDocument());
    expect(screen.queryByRole("heading", { name: "Network graph" })).not.toBeInTheDocument();
  });
});
