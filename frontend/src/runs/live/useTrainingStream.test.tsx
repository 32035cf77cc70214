import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import type uPlot from "uplot";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LiveSocketOptions } from "@/api/socket";
import type { TrainingServerMessage } from "@/api/ws";
import { stubFetch } from "@/test/render";
import { epoch, run, RUN_ID } from "../fixtures";
import type { CurveStore } from "./curveStore";
import { useTrainingStream } from "./useTrainingStream";


const sockets = vi.hoisted(() => [] as LiveSocketOptions<unknown>[]);
vi.mock("@/api/socket", () => ({
  LiveSocket: class {
    constructor(options: LiveSocketOptions<unknown>) {
      sockets.push(options);
    }
    close() {}
  },
}));

function serverSends(message: TrainingServerMessage) {
  act(() => sockets[sockets.length - 1].onMessage(message));
}

function snapshot(seqs: number[], more?: number): TrainingServerMessage {
  return {
    ...(more === undefined ? {} : { more }),
    type: "snapshot",
    status: "running",
    seq: seqs[seqs.length - 1] ?? 0,
    progress: { epoch: seqs.length, total_epochs: 50, fraction: seqs.length / 50 },
    history: seqs.map((seq) => epoch(seq)),
  };
}

/** A stand-in for uPlot: records what it is given and "paints" a microtask later. */
function fakeChart(curves: CurveStore) {
  const drawn: number[][] = [];
  const chart = {
    setData: (data: uPlot.AlignedData) => {
      drawn.push([...(data[0] as number[])]);
      queueMicrotask(() => curves.drawn(chart as unknown as uPlot));
    },
  };
  curves.attach(chart as unknown as uPlot, "loss");
  return { drawn, latest: () => drawn[drawn.length - 1] };
}

function renderStream() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  client.setQueryData(["runs", RUN_ID], run({ status: "queued" }));
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>{children}</QueryClientProvider>
  );
  const hook = renderHook(() => useTrainingStream(RUN_ID), { wrapper });
  return { client, curves: hook.result.current.curves, hook };
}

beforeEach(() => {
  sockets.length = 0;
  stubFetch({});
});

afterEach(() => {
  delete window.__medilytica_plot_log;
});

describe("useTrainingStream", () => {
  it("opens the run's socket and says whether it is live", () => {
    const { hook } = renderStream();
    expect(sockets[0].path).toBe(`/ws/training/${RUN_ID}`);
    expect(hook.result.current.connection).toBe("connecting");
    act(() => sockets[0].onState?.("open"));
    expect(hook.result.current.connection).toBe("live");
    act(() => sockets[0].onState?.("closed"));
    expect(hook.result.current.connection).toBe("reconnecting");
  });

  it("starts from the snapshot, appends epochs, ignores duplicates, and refills on reconnect", () => {
    const { curves, client } = renderStream();
    const chart = fakeChart(curves);
    serverSends(snapshot([1, 2]));
    serverSends(epoch(3));
    serverSends(epoch(2));
    serverSends(epoch(3));
    curves.flush();
    expect(chart.latest()).toEqual([1, 2, 3]);
    expect(client.getQueryData<ReturnType<typeof run>>(["runs", RUN_ID])?.status).toBe("running");

    serverSends(snapshot([1, 2, 3, 4, 5]));
    curves.flush();
    expect(chart.latest()).toEqual([1, 2, 3, 4, 5]);
  });

  it("refetches the history when seq jumps and merges it by seq", async () => {
    const requests = stubFetch({
      [`GET /api/viz/metrics/${RUN_ID}/`]: {
        status: "running",
        epochs: [1, 2, 3, 4],
        train_loss: [],
        val_loss: [],
        train_accuracy: [],
        val_accuracy: [],
        history: [1, 2, 3, 4].map((seq) => epoch(seq)),
      },
    });
    const { curves } = renderStream();
    const chart = fakeChart(curves);
    serverSends(snapshot([1]));
    serverSends(epoch(4)); // 2 and 3 were lost on the way
    await waitFor(() => expect(requests).toHaveLength(1));
    await waitFor(() => {
      curves.flush();
      expect(chart.latest()).toEqual([1, 2, 3, 4]);
    });
    serverSends(epoch(5));
    curves.flush();
    expect(chart.latest()).toEqual([1, 2, 3, 4, 5]);
    expect(requests).toHaveLength(1);
  });

  it("keeps the run's status in the query cache and refreshes the run when it ends", () => {
    const { client } = renderStream();
    serverSends({ type: "status", status: "stopping" });
    expect(client.getQueryData<ReturnType<typeof run>>(["runs", RUN_ID])?.status).toBe("stopping");
    client.setQueryData(["runs", RUN_ID, "results"], { metrics: {} });
    serverSends({ type: "completed", results: { status: "succeeded", metrics: {}, model: null, task: "classification" } });
    expect(client.getQueryState(["runs", RUN_ID])?.isInvalidated).toBe(true);
    expect(client.getQueryState(["runs", RUN_ID, "results"])?.isInvalidated).toBe(true);
  });

  it("logs each point once it is drawn and marks the first full draw", async () => {
    window.__medilytica_plot_log = [];
    const mark = vi.spyOn(performance, "mark");
    const { curves } = renderStream();
    fakeChart(curves);
    serverSends(snapshot([1, 2, 3]));
    curves.flush();
    await Promise.resolve();
    expect(mark).toHaveBeenCalledWith("medilytica:curve-drawn", { detail: { points: 3 } });
    serverSends(epoch(4));
    serverSends(snapshot([1, 2, 3, 4])); // a reconnect redraws, but logs nothing twice
    curves.flush();
    await Promise.resolve();
    const log = window.__medilytica_plot_log;
    expect(log.map((entry) => entry.epoch)).toEqual([1, 2, 3, 4]);
    expect(log[3]).toMatchObject({ epoch: 4, timestamp: epoch(4).timestamp });
    expect(typeof log[3].drawn_at).toBe("number");
    expect(mark).toHaveBeenCalledTimes(1);
    mark.mockRestore();
  });

  it("marks the curve drawn only when the parts after a cut snapshot are in", async () => {
    const mark = vi.spyOn(performance, "mark");
    const { curves } = renderStream();
    const chart = fakeChart(curves);
    serverSends(snapshot([1, 2], 3)); // too long for one frame: 3 more follow in parts
    curves.flush();
    await Promise.resolve();
    expect(chart.latest()).toEqual([1, 2]);
    expect(mark).not.toHaveBeenCalled();
    serverSends({ type: "snapshot_part", seq: 4, more: 1, history: [epoch(3), epoch(4)] });
    curves.flush();
    await Promise.resolve();
    expect(chart.latest()).toEqual([1, 2, 3, 4]);
    expect(mark).not.toHaveBeenCalled();
    serverSends({ type: "snapshot_part", seq: 5, more: 0, history: [epoch(5)] });
    serverSends(epoch(6)); // live again
    curves.flush();
    await Promise.resolve();
    expect(chart.latest()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(mark).toHaveBeenCalledExactlyOnceWith("medilytica:curve-drawn", { detail: { points: 6 } });
    mark.mockRestore();
  });
});
