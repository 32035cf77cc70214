import { mlpGraph } from "./fixtures";
import { edgeWidth, graphDescription, layerData, toElkGraph, toFlow } from "./graphLayout";

describe("graph layout", () => {
  it("gives elkjs every node with a size and every edge, laid out left to right", () => {
    const elk = toElkGraph(mlpGraph);
    expect(elk.layoutOptions).toMatchObject({ "elk.algorithm": "layered", "elk.direction": "RIGHT" });
    expect(elk.children?.map((child) => child.id)).toEqual(["input", "hidden_1", "output"]);
    for (const child of elk.children ?? []) {
      expect(child.width).toBeGreaterThanOrEqual(140);
      expect(child.height).toBeGreaterThan(0);
    }
    expect(elk.edges).toEqual([
      { id: "e0", sources: ["input"], targets: ["hidden_1"] },
      { id: "e1", sources: ["hidden_1"], targets: ["output"] },
    ]);
  });

  it("turns the laid-out graph into React Flow nodes and edges", () => {
    const laidOut = {
      id: "root",
      children: [
        { id: "input", x: 0, y: 10, width: 180, height: 44 },
        { id: "hidden_1", x: 250, y: 0, width: 300, height: 68 },
        { id: "output", x: 620, y: 10, width: 220, height: 44 },
      ],
    };
    const { nodes, edges } = toFlow(mlpGraph, laidOut);
    expect(nodes.map((node) => [node.id, node.type, node.position, node.width])).toEqual([
      ["input", "layer", { x: 0, y: 10 }, 180],
      ["hidden_1", "layer", { x: 250, y: 0 }, 300],
      ["output", "layer", { x: 620, y: 10 }, 220],
    ]);
    expect(nodes[1].data).toEqual({
      title: "Dense 64",
      parts: [
        { text: "BatchNorm", kind: "batchnorm" },
        { text: "relu", kind: "activation" },
        { text: "dropout 0.2", kind: "dropout" },
      ],
      type: "hidden",
      color: "#F58518",
    });
    expect(edges.map((edge) => [edge.source, edge.target, edge.style?.strokeWidth])).toEqual([
      ["input", "hidden_1", 6],
      ["hidden_1", "output", 3.5],
    ]);
  });

  it("draws negative weights dashed and unweighted edges thin", () => {
    const graph = {
      nodes: [
        { id: "f0", label: "age", type: "feature" as const, color: "#4C78A8" },
        { id: "out0", label: "log-odds of yes", type: "output" as const, color: "#54A24B" },
      ],
      edges: [{ from: "f0", to: "out0", weight: -0.5 }],
    };
    const { edges } = toFlow(graph, { id: "root" });
    expect(edges[0].style).toMatchObject({ strokeWidth: 6, strokeDasharray: "6 4" });
    expect(edgeWidth(null, 1)).toBe(1.5);
    expect(graphDescription(graph)).toMatch(/coefficient/);
    expect(layerData(graph.nodes[0])).toMatchObject({ title: "age", parts: [] });
  });
});
