// The run's live stream (/ws/training/{id}): the curve goes to a CurveStore drawn once per
// frame; status changes go to the TanStack Query cache, so the page has one source of truth.
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { api, unwrap, type Schemas } from "@/api/client";
import { LiveSocket } from "@/api/socket";
import type { RunProgress, TrainingServerMessage } from "@/api/ws";
import { CurveStore } from "./curveStore";

export type Connection = "connecting" | "live" | "reconnecting";

export interface TrainingStream {
  connection: Connection;
  curves: CurveStore;
}

type Run = Schemas["Run"];

export function runQueryKey(runId: string) {
  return ["runs", runId] as const;
}

/** The run's stream, opened while `enabled` (the page turns it on once it knows the run
 * needs one) and closed with the page. */
export function useTrainingStream(runId: string, enabled = true): TrainingStream {
  const client = useQueryClient();
  // A fresh curve for each run the page shows.
  const curves = useMemo(() => new CurveStore(), [runId]);
  const [connection, setConnection] = useState<Connection>("connecting");

  useEffect(() => {
    if (!enabled) return;
    let opened = false;
    const fillGap = gapFiller(runId, curves);
    const socket = new LiveSocket<TrainingServerMessage>({
      path: `/ws/training/${runId}`,
      onState: (state) => {
        if (state === "open") opened = true;
        setConnection(state === "open" ? "live" : opened ? "reconnecting" : "connecting");
      },
      onMessage: (message) => {
        switch (message.type) {
          case "snapshot":
            // Sent on every (re)connect: the whole curve so far, so it replaces ours.
            curves.replace(message.history, message.more ?? 0);
            updateRun(client, runId, { status: message.status, progress: progressOf(message.progress) });
            break;
          case "snapshot_part":
            // The rest of a snapshot too long for one frame, in order, before anything live.
            curves.merge(message.history);
            break;
          case "metrics":
            if (curves.add(message) === "gap") fillGap();
            break;
          case "status":
            updateRun(client, runId, {
              status: message.status,
              ...(message.error ? { error: message.error } : {}),
            });
            // The run's times and total epochs change with its status.
            void client.invalidateQueries({ queryKey: runQueryKey(runId), exact: true });
            break;
          case "completed":
          case "error":
            // Prefix: the run and its results (["runs", id, "results"]) alike.
            void client.invalidateQueries({ queryKey: runQueryKey(runId) });
            break;
        }
      },
    });
    return () => {
      socket.close();
      curves.dispose();
    };
  }, [runId, curves, client, enabled]);

  return { connection, curves };
}

/** Refetches the history after a `seq` gap, one request at a time, and merges it by seq. */
function gapFiller(runId: string, curves: CurveStore) {
  let running = false;
  let again = false;
  return function fill() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    void (async () => {
      try {
        do {
          again = false;
          const body = await unwrap(
            api.GET("/api/viz/metrics/{run_id}/", { params: { path: { run_id: runId } } }),
          );
          curves.merge(body.history);
        } while (again && curves.hasGap());
      } catch {
        // The next reconnect's snapshot carries the whole curve.
      } finally {
        running = false;
      }
    })();
  };
}

function progressOf(progress: RunProgress): Run["progress"] {
  return {
    epoch: progress.epoch ?? null,
    total_epochs: progress.total_epochs ?? null,
    fraction: progress.fraction ?? null,
  };
}

function updateRun(client: QueryClient, runId: string, change: Partial<Run>) {
  client.setQueryData<Run>(runQueryKey(runId), (run) => (run ? { ...run, ...change } : run));
}
