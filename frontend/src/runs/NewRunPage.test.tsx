import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { seriousViolations } from "./axe";
import { renderScreen, stubFetch, testUser } from "@/test/render";
import { DATASET_ID, dataset, datasetSummary, modelTypes, run, RUN_ID } from "./fixtures";
import NewRunPage from "./NewRunPage";


const ROUTE = `/runs/new?dataset=${DATASET_ID}`;

function json(body: unknown, status: number) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function answers(start: (body: unknown) => Response = () => json(run({ status: "queued" }), 202)) {
  return {
    "GET /api/data/": { count: 1, next: null, previous: null, results: [datasetSummary] },
    [`GET /api/data/${DATASET_ID}/`]: dataset,
    "GET /api/train/model-types/": modelTypes,
    "POST /api/train/start/": async (request: Request) => start(await request.json()),
  };
}

async function renderForm(start?: (body: unknown) => Response) {
  stubFetch(answers(start));
  const screenParts = renderScreen(<NewRunPage />, { path: "/runs/new", route: ROUTE });
  await screen.findByRole("button", { name: "Start training" }, { timeout: 5000 });
  return screenParts;
}

// Many typed interactions: generous under a loaded test machine.
describe("NewRunPage", { timeout: 20_000 }, () => {
  it("builds its fields from the dataset's profile and the engine's model types", async () => {
    await renderForm();
    expect(screen.getByRole("heading", { level: 1, name: "New training run" })).toBeInTheDocument();
    expect(screen.getByLabelText("Dataset")).toHaveValue(DATASET_ID);
    expect(screen.getByLabelText("Target")).toHaveValue("outcome");
    expect(screen.getByLabelText("Model type")).toHaveValue("logistic_regression");
    expect(screen.getByLabelText("Task")).toHaveValue("classification");

    const features = screen.getByRole("group", { name: "Features" });
    const identifier = within(features).getByRole("checkbox", { name: "patient_id" });
    expect(identifier).not.toBeChecked();
    expect(identifier).toHaveAccessibleDescription(/Likely identifier/);
    expect(within(features).getByRole("checkbox", { name: "age" })).toBeChecked();
    expect(within(features).queryByRole("checkbox", { name: "outcome" })).not.toBeInTheDocument();
    const leftOut = within(features).getByRole("region", { name: "Left out of this run" });
    expect(within(leftOut).getAllByRole("listitem").map((item) => item.textContent)).toEqual([
      "patient_id: likely identifier: unique per row",
    ]);

    const positive = screen.getByLabelText("Positive class");
    expect(within(positive).getAllByRole("option").map((o) => o.textContent)).toEqual([
      "1 (the event label, default)",
      "0",
      "1",
    ]);
    expect(positive).not.toBeRequired();
    expect(screen.getByLabelText("Decision threshold")).toHaveValue("youden");
    expect(screen.getByLabelText("Cross-validation folds (optional)")).toHaveValue(null);

    const params = screen.getByRole("group", { name: "Hyperparameters" });
    const c = within(params).getByLabelText("C");
    expect(c).toHaveValue(1);
    expect(c).toHaveAttribute("max", "1000000");
    expect(c).toHaveAccessibleDescription(/Inverse L2 regularisation strength/);
    expect(within(params).getByLabelText("class_weight")).toHaveValue("");

    await userEvent.selectOptions(screen.getByLabelText("Model type"), "neural_network");
    expect(within(params).getByLabelText("hidden_layers")).toHaveValue("64, 32");
    expect(within(params).getByLabelText("epochs")).toHaveValue(50);
    expect(within(params).getByLabelText("batch_norm")).not.toBeChecked();
    expect(within(params).getByLabelText("activation")).toHaveValue("relu");
    expect(within(params).getByLabelText("class_weight")).toHaveValue("balanced");
    expect(within(params).getByLabelText("learning_rate")).toHaveAccessibleDescription(/Adam learning rate/);
    expect(within(params).queryByLabelText("C")).not.toBeInTheDocument();
    expect(await seriousViolations()).toEqual([]);
  });

  it("posts the chosen settings, leaving defaults to the engine, and opens the run", async () => {
    let posted: unknown;
    const { router } = await renderForm((body) => {
      posted = body;
      return json(run({ status: "queued" }), 202);
    });
    const user = userEvent.setup();
    await user.selectOptions(screen.getByLabelText("Model type"), "neural_network");
    const layers = screen.getByLabelText("hidden_layers");
    await user.clear(layers);
    await user.type(layers, "128, 64");
    const epochs = screen.getByLabelText("epochs");
    await user.clear(epochs);
    await user.type(epochs, "5");
    await user.click(screen.getByLabelText("batch_norm"));
    await user.click(screen.getByRole("checkbox", { name: "cholesterol" }));
    await user.click(screen.getByRole("checkbox", { name: "patient_id" }));
    expect(screen.getByRole("region", { name: "Left out of this run" })).toHaveTextContent(
      "cholesterol: left out by you",
    );
    await user.selectOptions(screen.getByLabelText("Group column (optional)"), "sex");
    await user.selectOptions(screen.getByLabelText("Positive class"), "1");
    await user.selectOptions(screen.getByLabelText("Decision threshold"), "sensitivity");
    const lowest = screen.getByLabelText("Lowest sensitivity");
    await user.clear(lowest);
    await user.type(lowest, "0.95");
    await user.type(screen.getByLabelText("Cross-validation folds (optional)"), "5");
    await user.type(screen.getByLabelText("Run name"), "Heart baseline");
    await user.click(screen.getByRole("button", { name: "Start training" }));

    await waitFor(() => expect(router.state.location.pathname).toBe(`/runs/${RUN_ID}`));
    expect(posted).toEqual({
      dataset: DATASET_ID,
      target: "outcome",
      model_type: "neural_network",
      task: "classification",
      hyperparameters: { hidden_layers: [128, 64], epochs: 5, batch_norm: true },
      test_size: 0.2,
      random_seed: 42,
      name: "Heart baseline",
      group_column: "sex",
      positive_class: 1,
      threshold_rule: "sensitivity>=0.95",
      cv_folds: 5,
      exclude: ["cholesterol"],
      include: ["patient_id"],
    });
  });

  it("asks for the positive class when no label names the event", async () => {
    await renderForm();
    await userEvent.selectOptions(screen.getByLabelText("Target"), "sex");
    const positive = screen.getByLabelText("Positive class");
    expect(positive).toBeRequired();
    expect(within(positive).getAllByRole("option").map((o) => o.textContent)).toEqual([
      "Choose the class that is the event",
      "F",
      "M",
    ]);
  });

  it("shows the server's field errors next to their fields and in one alert", async () => {
    // The browser already refuses what is out of bounds; the server knows more.
    await renderForm(() =>
      json({ "hyperparameters.max_iter": ["must be at most 500 for this dataset"], target: ["Too few rows."] }, 400),
    );
    const user = userEvent.setup();
    const maxIter = screen.getByLabelText("max_iter");
    await user.clear(maxIter);
    await user.type(maxIter, "5000");
    await user.click(screen.getByRole("button", { name: "Start training" }));

    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Training could not start.");
    expect(alert).toHaveTextContent("max_iter: must be at most 500 for this dataset");
    expect(alert).toHaveTextContent("Target: Too few rows.");
    expect(maxIter).toHaveAccessibleDescription(/must be at most 500 for this dataset/);
    expect(maxIter).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Target")).toHaveAccessibleDescription(/Too few rows\./);
  });

  it("says how many runs are waiting when the queue limit refuses one", async () => {
    const detail =
      "You have 10 runs queued or running (7 waiting, 3 running); the limit is 10. " +
      "Stop one, or start this one when one has finished.";
    await renderForm(() => json({ detail, code: "too_many_runs" }, 429));
    await userEvent.click(screen.getByRole("button", { name: "Start training" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Training could not start.");
    expect(alert).toHaveTextContent(detail);
  });

  it("tells a viewer that they cannot start runs", async () => {
    stubFetch(answers());
    const viewer = { ...testUser, workspaces: [{ ...testUser.workspaces[0], role: "viewer" }] };
    renderScreen(<NewRunPage />, { path: "/runs/new", route: ROUTE, me: viewer });
    expect(screen.getByText(/cannot start runs/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Start training" })).not.toBeInTheDocument();
  });
});
