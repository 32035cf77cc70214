import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { renderScreen, stubFetch } from "@/test/render";
import { DATASETS, makeRun, page } from "./fixtures";
import RunsPage from "./RunsPage";


const RUNS = [
  makeRun({
    id: "a0000000-0000-4000-8000-000000000001",
    name: "forest",
    latest_metrics: { epoch: 5, val_loss: 0.5, val_accuracy: 0.71 },
  }),
  makeRun({
    id: "a0000000-0000-4000-8000-000000000002",
    name: "network",
    model_type: "neural_network",
    status: "failed",
    dataset: "d0000000-0000-4000-8000-000000000002",
    latest_metrics: { epoch: 3, val_loss: 0.3, val_accuracy: 0.9 },
  }),
  makeRun({
    id: "a0000000-0000-4000-8000-000000000003",
    name: "logistic",
    model_type: "logistic_regression",
    latest_metrics: { epoch: 1, val_loss: 0.4, val_accuracy: 0.8 },
  }),
];

/** Answers the list as the server does: `?status=` filters there. */
function serveRuns(runs = RUNS) {
  return stubFetch({
    "GET /api/train/": (request: Request) => {
      const status = new URL(request.url).searchParams.get("status");
      return page(runs.filter((run) => !status || run.status === status));
    },
    "GET /api/data/": DATASETS,
  });
}

function runNames() {
  const table = screen.getByRole("table", { name: "Training runs" });
  return within(table)
    .getAllByRole("row")
    .slice(1)
    .map((row) => within(row).getAllByRole("link")[0].textContent);
}

// Many clicks, each re-rendering a table: more than the default 5 s on a busy machine.
describe("RunsPage", { timeout: 15_000 }, () => {
  it("lists the runs with their dataset names, statuses and metric columns", async () => {
    serveRuns();
    renderScreen(<RunsPage />, { path: "/runs", route: "/runs" });
    expect(screen.getByRole("heading", { level: 1, name: "Training runs" })).toBeInTheDocument();
    expect(await screen.findByRole("link", { name: "network" })).toHaveAttribute(
      "href",
      "/runs/a0000000-0000-4000-8000-000000000002",
    );
    const row = screen.getByRole("row", { name: /network/ });
    expect(within(row).getByText("Diabetes")).toBeInTheDocument();
    expect(within(row).getByText("failed")).toBeInTheDocument();
    expect(within(row).getByText("0.900")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Sort by val_accuracy" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "New run" })).toHaveAttribute("href", "/runs/new");
  });

  it("names the datasets even when their list arrives after the runs", async () => {
    stubFetch({
      "GET /api/train/": page(RUNS),
      "GET /api/data/": () => new Promise((resolve) => setTimeout(() => resolve(DATASETS), 50)),
    });
    renderScreen(<RunsPage />, { path: "/runs", route: "/runs" });
    const row = (await screen.findByRole("link", { name: "network" })).closest("tr") as HTMLElement;
    expect(await within(row).findByText("Diabetes")).toBeInTheDocument();
  });

  it("sorts by a metric when its header is clicked, best first, then the other way", async () => {
    serveRuns();
    renderScreen(<RunsPage />, { path: "/runs", route: "/runs" });
    await screen.findByRole("link", { name: "forest" });
    expect(runNames()).toEqual(["forest", "network", "logistic"]);

    const byAccuracy = screen.getByRole("button", { name: "Sort by val_accuracy" });
    await userEvent.click(byAccuracy);
    expect(runNames()).toEqual(["network", "logistic", "forest"]);
    expect(byAccuracy.closest("th")).toHaveAttribute("aria-sort", "descending");
    await userEvent.click(byAccuracy);
    expect(runNames()).toEqual(["forest", "logistic", "network"]);

    const byLoss = screen.getByRole("button", { name: "Sort by val_loss" });
    await userEvent.click(byLoss);
    expect(runNames()).toEqual(["network", "logistic", "forest"]);
    expect(byLoss.closest("th")).toHaveAttribute("aria-sort", "ascending");
    expect(byAccuracy.closest("th")).toHaveAttribute("aria-sort", "none");
  });

  it("filters by status on the server and by model type and dataset here", async () => {
    const calls = serveRuns();
    renderScreen(<RunsPage />, { path: "/runs", route: "/runs" });
    await screen.findByRole("link", { name: "forest" });

    await userEvent.selectOptions(screen.getByLabelText("Status"), "Failed");
    await waitFor(() => expect(runNames()).toEqual(["network"]));
    expect(calls.some((c) => new URL(c.url).searchParams.get("status") === "failed")).toBe(true);

    await userEvent.selectOptions(screen.getByLabelText("Status"), "All statuses");
    await waitFor(() => expect(runNames()).toHaveLength(3));
    await userEvent.selectOptions(screen.getByLabelText("Model type"), "Logistic regression");
    expect(runNames()).toEqual(["logistic"]);

    await userEvent.selectOptions(screen.getByLabelText("Model type"), "All model types");
    await userEvent.selectOptions(screen.getByLabelText("Dataset"), "Diabetes");
    expect(runNames()).toEqual(["network"]);

    await userEvent.selectOptions(screen.getByLabelText("Model type"), "Random forest");
    expect(screen.getByRole("heading", { name: "No runs match these filters" })).toBeInTheDocument();
    await userEvent.click(screen.getAllByRole("button", { name: "Clear filters" })[0]);
    expect(runNames()).toHaveLength(3);
  });

  it("enables Compare selected for two to six runs and opens the comparison", async () => {
    const many = Array.from({ length: 7 }, (_, i) =>
      makeRun({ id: `b0000000-0000-4000-8000-00000000000${i}`, name: `run ${i}` }),
    );
    serveRuns(many);
    const { router } = renderScreen(<RunsPage />, { path: "/runs", route: "/runs" });
    await screen.findByRole("link", { name: "run 0" });
    const compare = screen.getByRole("button", { name: "Compare selected" });
    expect(compare).toBeDisabled();

    await userEvent.click(screen.getByRole("checkbox", { name: "Select run 0" }));
    expect(compare).toBeDisabled();
    await userEvent.click(screen.getByRole("checkbox", { name: "Select run 1" }));
    expect(compare).toBeEnabled();
    for (const i of [2, 3, 4, 5]) await userEvent.click(screen.getByRole("checkbox", { name: `Select run ${i}` }));
    expect(compare).toBeEnabled();
    await userEvent.click(screen.getByRole("checkbox", { name: "Select run 6" }));
    expect(compare).toBeDisabled();
    expect(screen.getByText(/compare at most 6/)).toBeInTheDocument();

    for (const i of [6, 5, 4, 3, 2]) await userEvent.click(screen.getByRole("checkbox", { name: `Select run ${i}` }));
    await userEvent.click(compare);
    expect(router.state.location.pathname).toBe("/compare");
    expect(router.state.location.search).toBe(
      "?runs=b0000000-0000-4000-8000-000000000000,b0000000-0000-4000-8000-000000000001",
    );
  });

  it("invites the first run when there are none", async () => {
    stubFetch({ "GET /api/train/": page([]), "GET /api/data/": DATASETS });
    renderScreen(<RunsPage />, { path: "/runs", route: "/runs" });
    expect(await screen.findByRole("heading", { name: "No runs yet" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Train a model" })).toHaveAttribute("href", "/runs/new");
  });

  it("shows the server's error with a way to retry", async () => {
    stubFetch({
      "GET /api/train/": () =>
        new Response(JSON.stringify({ detail: "Database unavailable.", code: "error" }), { status: 503 }),
      "GET /api/data/": DATASETS,
    });
    renderScreen(<RunsPage />, { path: "/runs", route: "/runs" });
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Database unavailable.");
    expect(within(alert).getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });
});
