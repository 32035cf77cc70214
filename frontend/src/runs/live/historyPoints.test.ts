import { describe, expect, it } from "vitest";
import { historyPoints } from "./historyPoints";

describe("historyPoints", () => {
  it("turns a regression's stored arrays into points with its own metric", () => {
    const points = historyPoints({
      epochs: [1, 2],
      train_loss: [10.2, 8.1],
      val_loss: [11.5, null],
      train_mae: [2.2, 2.0],
      val_mae: [2.4, 2.3],
    });
    expect(points).toEqual([
      { type: "metrics", seq: 1, epoch: 1, timestamp: "", loss: 10.2, val_loss: 11.5, mae: 2.2, val_mae: 2.4 },
      { type: "metrics", seq: 2, epoch: 2, timestamp: "", loss: 8.1, val_loss: null, mae: 2.0, val_mae: 2.3 },
    ]);
  });

  it("keeps a classifier's accuracy and leaves out what it never reported", () => {
    const [point] = historyPoints({ epochs: [5], train_loss: [0.3], val_loss: [0.4], train_accuracy: [0.9] });
    expect(point).toEqual({
      type: "metrics",
      seq: 1,
      epoch: 5,
      timestamp: "",
      loss: 0.3,
      val_loss: 0.4,
      accuracy: 0.9,
      val_accuracy: null,
    });
  });
});
