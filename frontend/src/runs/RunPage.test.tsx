import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { LiveSocketOptions } from "@/api/socket";
import type { TrainingServerMessage } from "@/api/ws";
import { seriousViolations } from "./axe";
import { renderScreen, stubFetch } from "@/test/render";
import { DATASET_ID, dataset, epoch, run, RUN_ID } from "./fixtures";
import RunPage from "./RunPage";
import { binaryResults } from "./results/fixtures";


const sockets = vi.hoisted(() => [] as LiveSocketOptions<unknown>[]);
vi.mock("@/api/socket", () => ({
  LiveSocket: class {
    constructor(options: LiveSocketOptions<unknown>) {
      sockets.push(options);
    }
    close() {}
  },
}));

// jsdom has no canvas: a uPlot that takes data and draws nothing.
vi.mock("uplot", () => ({
  default: class {
    setData() {}
    setSize() {}
    destroy() {}
  },
}));

vi.mock("@/runs/results/RunResults", () => ({
  RunResults: ({ runId }: { runId: string }) => <p>Results of {runId}</p>,
}));

const ROUTE = { path: "/runs/:id", route: `/runs/${RUN_ID}` };

function serve(current: ReturnType<typeof run>, extra: Record<string, unknown> = {}) {
  return stubFetch({
    [`GET /api/train/${RUN_ID}/`]: current,
    [`GET /api/data/${DATASET_ID}/`]: dataset,
    ...extra,
  });
}

function serverSends(message: TrainingServerMessage) {
  act(() => sockets[sockets.length - 1].onMessage(message));
}

beforeEach(() => {
  sockets.length = 0;
});

describe("RunPage", () => {
  it("shows a running run's status, progress, summary and live curves", async () => {
    serve(run());
    renderScreen(<RunPage />, ROUTE);
    // The first render also loads the page's modules: slow on a busy machine.
    expect(await screen.findByRole("heading", { level: 1, name: "Heart baseline" }, { timeout: 5000 })).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("Status: running");
    expect(screen.getByRole("progressbar", { name: "Training progress" })).toHaveAccessibleDescription("Epoch 2 of 50");
    expect(screen.getByRole("img", { name: "Loss" })).toBeInTheDocument();
    expect(screen.getByRole("img", { name: "Accuracy" })).toBeInTheDocument();
    expect(await screen.findByRole("link", { name: "Heart study" })).toHaveAttribute("href", `/datasets/${DATASET_ID}`);
    expect(screen.getByRole("link", { name: "Compare with…" })).toHaveAttribute("href", `/compare?runs=${RUN_ID}`);
    expect(sockets[0].path).toBe(`/ws/training/${RUN_ID}`);
    expect(await seriousViolations()).toEqual([]);

    act(() => sockets[0].onState?.("open"));
    expect(screen.getByText("Live")).toBeInTheDocument();
    serverSends({
      type: "snapshot",
      status: "running",
      seq: 2,
      progress: { epoch: 2, total_epochs: 50, fraction: 0.04 },
      history: [epoch(1), epoch(2)],
    });
    serverSends(epoch(3));
    await waitFor(() =>
      expect(screen.getByRole("progressbar", { name: "Training progress" })).toHaveAccessibleDescription(
        "Epoch 3 of 50",
      ),
    );
  });

  it("stops a run: posts the stop and disables the button while it stops", async () => {
    const requests = serve(run(), {
      [`POST /api/train/stop/${RUN_ID}/`]: () =>
        new Response(
          JSON.stringify({
            id: RUN_ID,
            status: "stopping",
            progress: { epoch: 2, total_epochs: 50, fraction: 0.04 },
            latest_metrics: null,
            error: "",
            started_at: null,
            finished_at: null,
          }),
          { status: 202, headers: { "Content-Type": "application/json" } },
        ),
    });
    renderScreen(<RunPage />, ROUTE);
    await userEvent.click(await screen.findByRole("button", { name: "Stop run" }));
    await waitFor(() => expect(screen.getByRole("status")).toHaveTextContent("stopping"));
    expect(screen.getByRole("button", { name: "Stop run" })).toBeDisabled();
    expect(requests.some((r) => r.method === "POST" && r.url.endsWith(`/api/train/stop/${RUN_ID}/`))).toBe(true);
  });

  it("shows a finished run's results, its curves from them, no stream and no Stop button", async () => {
    serve(run({ status: "succeeded", model: "00000000-0000-4000-8000-0000000000f1", finished_at: "2026-01-01T00:01:00Z" }), {
      [`GET /api/train/results/${RUN_ID}/`]: binaryResults,
    });
    renderScreen(<RunPage />, ROUTE);
    expect(await screen.findByText(`Results of ${RUN_ID}`)).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("succeeded");
    expect(screen.queryByRole("button", { name: "Stop run" })).not.toBeInTheDocument();
    // The stored history is the curve: train and validation at its last epoch.
    expect(await screen.findByText("Epoch 3: train 0.3000, validation 0.3500.")).toBeInTheDocument();
    expect(screen.getByText("Epoch 3: train 0.9000, validation 0.8800.")).toBeInTheDocument();
    expect(sockets).toEqual([]);
  });

  it("follows the stream when the run finishes", async () => {
    let current = run();
    serve(current, { [`GET /api/train/${RUN_ID}/`]: () => current });
    renderScreen(<RunPage />, ROUTE);
    await screen.findByRole("button", { name: "Stop run" });
    current = run({ status: "succeeded", model: "00000000-0000-4000-8000-0000000000f1" });
    serverSends({ type: "status", status: "succeeded" });
    await waitFor(() => expect(screen.getByRole("status")).toHaveTextContent("succeeded"));
    expect(screen.queryByRole("button", { name: "Stop run" })).not.toBeInTheDocument();
    expect(await screen.findByText(`Results of ${RUN_ID}`)).toBeInTheDocument();
  });

  it("says why a failed run failed", async () => {
    serve(run({ status: "failed", error: "The target has one class." }));
    renderScreen(<RunPage />, ROUTE);
    expect(await screen.findByRole("alert")).toHaveTextContent("The target has one class.");
    expect(screen.queryByText(/Results of/)).not.toBeInTheDocument();
  });

  it("says Not found for a run that is not there", async () => {
    stubFetch({});
    renderScreen(<RunPage />, ROUTE);
    expect(await screen.findByRole("heading", { name: "Not found" })).toBeInTheDocument();
  });
});
