import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { DATASETS, makeRun, page } from "@/runs/list/fixtures";
import { renderScreen, stubFetch } from "@/test/render";
import ComparePage from "./ComparePage";


// jsdom has no canvas: a uPlot that records what it was asked to draw.
const charts = vi.hoisted(() => [] as { options: { series: { label?: string }[] }; data: unknown[] }[]);
vi.mock("uplot", () => ({
  default: vi.fn(function (options: (typeof charts)[number]["options"], data: unknown[]) {
    charts.push({ options, data });
    return { setData: vi.fn(), setSize: vi.fn(), destroy: vi.fn() };
  }),
}));

const A = "a0000000-0000-4000-8000-000000000001";
const B = "a0000000-0000-4000-8000-000000000002";
const C = "a0000000-0000-4000-8000-000000000003";

const RUNS = {
  [A]: makeRun({ id: A, name: "shallow forest", hyperparameters: { n_estimators: 100, max_depth: 4 } }),
  [B]: makeRun({ id: B, name: "deep forest", hyperparameters: { n_estimators: 100, max_depth: 12 } }),
};

const HISTORY = {
  [A]: { status: "succeeded", epochs: [1, 2, 3], val_loss: [0.7, 0.6, 0.5], val_accuracy: [0.6, 0.7, 0.8], train_loss: [], train_accuracy: [], history: [] },
  [B]: { status: "succeeded", epochs: [1, 2], val_loss: [0.65, 0.55], val_accuracy: [0.62, 0.74], train_loss: [], train_accuracy: [], history: [] },
};

const RESULTS = {
  [A]: { metrics: { accuracy: 0.81, roc_auc: 0.88, log_loss: 0.45, n_test: 60 } },
  [B]: { metrics: { accuracy: 0.79, roc_auc: 0.9, log_loss: 0.41, n_test: 60 } },
};

function serve(extra: Record<string, unknown> = {}) {
  const answers: Record<string, unknown> = {
    "GET /api/train/": page(Object.values(RUNS)),
    "GET /api/data/": DATASETS,
    ...extra,
  };
  for (const id of [A, B] as const) {
    answers[`GET /api/train/${id}/`] = RUNS[id];
    answers[`GET /api/viz/metrics/${id}/`] = HISTORY[id];
    answers[`GET /api/train/results/${id}/`] = RESULTS[id];
  }
  return stubFetch(answers);
}

function rowOf(table: HTMLElement, header: string): HTMLElement {
  return within(table).getByRole("rowheader", { name: header }).closest("tr") as HTMLElement;
}

beforeEach(() => {
  charts.length = 0;
});

// Many clicks, each re-rendering a table: more than the default 5 s on a busy machine.
describe("ComparePage", { timeout: 15_000 }, () => {
  it("marks the hyperparameter that differs, and only that one", async () => {
    serve();
    renderScreen(<ComparePage />, { path: "/compare", route: `/compare?runs=${A},${B}` });
    expect(screen.getByRole("heading", { level: 1, name: "Compare runs" })).toBeInTheDocument();
    const config = await screen.findByRole("table", { name: "Configuration" });
    expect(screen.getByRole("heading", { level: 2, name: "Configuration" })).toBeInTheDocument();

    const depth = within(config).getByRole("row", { name: /max_depth/ });
    expect(within(depth).getByText("Differs")).toBeInTheDocument();
    expect(within(depth).getAllByRole("cell").map((c) => c.textContent)).toEqual(["4", "12"]);

    const trees = within(config).getByRole("row", { name: /n_estimators/ });
    expect(within(trees).queryByText("Differs")).not.toBeInTheDocument();
    expect(within(config).getByRole("row", { name: /Dataset/ })).toHaveTextContent("Heart disease");
    expect(within(config).getByRole("columnheader", { name: "deep forest" })).toBeInTheDocument();
  });

  it("shows the defaults a run trained with, and compares the values used", async () => {
    const spec = (name: string, value: unknown) => ({
      name, kind: "int", default: { classification: value, regression: value }, choices: {},
      minimum: 1, maximum: null, exclusive_minimum: false, exclusive_maximum: false,
      nullable: true, tasks: ["classification", "regression"], help: "",
    });
    serve({
      "GET /api/train/model-types/": {
        model_types: [{
          model_type: "random_forest",
          tasks: ["classification", "regression"],
          hyperparameters: [spec("n_estimators", 100), spec("max_depth", null), spec("min_samples_leaf", 1)],
        }],
      },
    });
    renderScreen(<ComparePage />, { path: "/compare", route: `/compare?runs=${A},${B}` });
    const config = await screen.findByRole("table", { name: "Configuration" });
    const leaf = await within(config).findByRole("row", { name: /min_samples_leaf/ });
    expect(within(leaf).getAllByRole("cell").map((c) => c.textContent)).toEqual(["1 (default)", "1 (default)"]);
    expect(within(leaf).queryByText("Differs")).not.toBeInTheDocument();
    // Typed in by both: not "(default)", even where it equals the default.
    const trees = within(config).getByRole("row", { name: /n_estimators/ });
    expect(within(trees).getAllByRole("cell").map((c) => c.textContent)).toEqual(["100", "100"]);
  });

  it("marks the best value of each metric, lower for losses", async () => {
    serve();
    renderScreen(<ComparePage />, { path: "/compare", route: `/compare?runs=${A},${B}` });
    const metrics = await screen.findByRole("table", { name: "Metrics by run" });

    const accuracy = rowOf(metrics, "accuracy");
    expect(within(accuracy).getByRole("cell", { name: "0.810 (best)" })).toBeInTheDocument();
    expect(within(accuracy).getByRole("cell", { name: "0.790" })).toBeInTheDocument();

    const logLoss = rowOf(metrics, "log_loss");
    expect(within(logLoss).getByRole("cell", { name: "0.410 (best)" })).toBeInTheDocument();

    const rows = rowOf(metrics, "n_test");
    expect(within(rows).queryByText("(best)")).not.toBeInTheDocument();
  });

  it("overlays each run's validation curves on one epoch axis, with gaps", async () => {
    serve();
    renderScreen(<ComparePage />, { path: "/compare", route: `/compare?runs=${A},${B}` });
    expect(await screen.findByRole("img", { name: "Validation loss, all runs" })).toBeInTheDocument();
    expect(screen.getByRole("img", { name: "Validation accuracy, all runs" })).toBeInTheDocument();
    const loss = charts[0];
    expect(loss.options.series.map((s) => s.label)).toEqual(["Epoch", "shallow forest", "deep forest"]);
    expect(loss.data).toEqual([[1, 2, 3], [0.7, 0.6, 0.5], [0.65, 0.55, null]]);
    expect(screen.getByText(/deep forest: 0\.550 at epoch 2/)).toBeInTheDocument();
  });

  it("says which run is missing", async () => {
    serve();
    renderScreen(<ComparePage />, { path: "/compare", route: `/compare?runs=${A},${B},${C}` });
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Not found");
    expect(alert).toHaveTextContent(C);
    expect(await screen.findByRole("table", { name: "Configuration" })).toBeInTheDocument();
  });

  it("uses the first six runs when more are asked for", async () => {
    serve();
    const ids = Array.from({ length: 7 }, (_, i) => `c0000000-0000-4000-8000-00000000000${i}`);
    renderScreen(<ComparePage />, { path: "/compare", route: `/compare?runs=${ids.join(",")}` });
    expect(screen.getAllByRole("alert")[0]).toHaveTextContent("at most 6");
    // None of them exists here: the missing list names the six compared, not the seventh.
    const missing = await screen.findByText(/These runs do not exist/);
    const alert = missing.closest("[role=alert]") as HTMLElement;
    expect(alert).toHaveTextContent(ids[5]);
    expect(alert).not.toHaveTextContent(ids[6]);
  });

  it("offers a picker with fewer than two runs, and the picker fills the address", async () => {
    serve();
    const { router } = renderScreen(<ComparePage />, { path: "/compare", route: "/compare" });
    expect(screen.getByText(/Choose two to 6 runs/)).toBeInTheDocument();
    await userEvent.click(await screen.findByRole("checkbox", { name: "Select shallow forest" }));
    expect(router.state.location.search).toBe(`?runs=${A}`);
    await userEvent.click(screen.getByRole("checkbox", { name: "Select deep forest" }));
    expect(router.state.location.search).toBe(`?runs=${A},${B}`);
    expect(await screen.findByRole("table", { name: "Configuration" })).toBeInTheDocument();
    expect(screen.getByRole("checkbox", { name: "Select deep forest" })).toHaveFocus();
  });
});
