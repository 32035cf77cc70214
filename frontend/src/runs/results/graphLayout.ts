// The model graph (GET /api/viz/graph/{id}) as an elkjs graph to lay out, and the
// laid-out graph as React Flow nodes and edges. Pure, so it is tested without a canvas.
import type { Edge, Node } from "@xyflow/react";
import type { ElkNode } from "elkjs/lib/elk-api";
import type { ModelGraph, ModelGraphNode } from "./types";

/** A hidden layer's extras after "Dense 64": BatchNorm, the activation, dropout. */
export type PartKind = "batchnorm" | "dropout" | "activation";

export interface LayerData extends Record<string, unknown> {
  title: string;
  parts: { text: string; kind: PartKind }[];
  type: ModelGraphNode["type"];
  color: string;
}

export type LayerNode = Node<LayerData, "layer">;

export const ELK_OPTIONS = {
  "elk.algorithm": "layered",
  "elk.direction": "RIGHT",
  "elk.spacing.nodeNode": "24",
  "elk.layered.spacing.nodeNodeBetweenLayers": "72",
};

const NODE_HEIGHT = 44;
const NODE_HEIGHT_WITH_PARTS = 68;

function partKind(text: string): PartKind {
  if (/^batch ?norm/i.test(text)) return "batchnorm";
  if (/^dropout/i.test(text)) return "dropout";
  return "activation";
}

/** "Dense 64 · BatchNorm · relu · dropout 0.2" -> the title and its typed parts. */
export function layerData(node: ModelGraphNode): LayerData {
  const [title, ...rest] = node.label.split(" · ");
  return {
    title,
    parts: rest.map((text) => ({ text, kind: partKind(text) })),
    type: node.type,
    color: node.color,
  };
}

/** A size for the layout that fits the node's text (React Flow draws it at this size). */
export function nodeSize(node: ModelGraphNode): { width: number; height: number } {
  const data = layerData(node);
  const longest = Math.max(data.title.length, data.parts.map((part) => part.text).join("  ").length);
  return {
    width: Math.round(Math.min(320, Math.max(140, longest * 7.5 + 40))),
    height: data.parts.length ? NODE_HEIGHT_WITH_PARTS : NODE_HEIGHT,
  };
}

export function toElkGraph(graph: ModelGraph): ElkNode {
  return {
    id: "root",
    layoutOptions: ELK_OPTIONS,
    children: graph.nodes.map((node) => ({ id: node.id, ...nodeSize(node) })),
    edges: graph.edges.map((edge, index) => ({ id: `e${index}`, sources: [edge.from], targets: [edge.to] })),
  };
}

/** Edge width in pixels: 1 to 6, by |weight| relative to the heaviest edge. */
export function edgeWidth(weight: number | null, heaviest: number): number {
  if (weight === null || heaviest <= 0) return 1.5;
  return 1 + (5 * Math.abs(weight)) / heaviest;
}

export function toFlow(graph: ModelGraph, laidOut: ElkNode): { nodes: LayerNode[]; edges: Edge[] } {
  const placed = new Map((laidOut.children ?? []).map((child) => [child.id, child]));
  const nodes: LayerNode[] = graph.nodes.map((node) => {
    const size = nodeSize(node);
    const at = placed.get(node.id);
    return {
      id: node.id,
      type: "layer",
      position: { x: at?.x ?? 0, y: at?.y ?? 0 },
      width: at?.width ?? size.width,
      height: at?.height ?? size.height,
      data: layerData(node),
    };
  });
  const heaviest = Math.max(0, ...graph.edges.map((edge) => Math.abs(edge.weight ?? 0)));
  const edges: Edge[] = graph.edges.map((edge, index) => {
    const negative = edge.weight !== null && edge.weight < 0;
    return {
      id: `e${index}`,
      source: edge.from,
      target: edge.to,
      label: edge.label,
      data: { weight: edge.weight },
      style: {
        strokeWidth: edgeWidth(edge.weight, heaviest),
        stroke: negative ? "var(--danger)" : "var(--muted)",
        strokeDasharray: negative ? "6 4" : undefined,
      },
    };
  });
  return { nodes, edges };
}

/** What the graph shows and what its edge widths mean, by the kinds of node it has. */
export function graphDescription(graph: ModelGraph): string {
  const types = new Set(graph.nodes.map((node) => node.type));
  if (types.has("hidden") || types.has("input")) {
    return "The network's layers from input to output; edge width is the mean absolute weight between two layers.";
  }
  if (types.has("split")) {
    return "The top levels of the decision tree; edge width is the share of training rows that take the branch.";
  }
  if (types.has("ensemble")) {
    return "The features the ensemble uses most; edge width is the feature's importance.";
  }
  return "The features and the model's output; edge width is the coefficient's size, dashed and red where it is negative.";
}
