// The model graph drawn with React Flow after elkjs has laid it out left to right.
// Loaded on demand with its libraries. The drawing is one named image; the zoom
// buttons sit outside it so that they stay reachable.
import {
  Handle,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Edge,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import ELK from "elkjs/lib/elk.bundled.js";
import { useEffect, useState } from "react";
import { Loading } from "@/components/states";
import { toElkGraph, toFlow, type LayerNode } from "./graphLayout";
import type { ModelGraph } from "./types";

const elk = new ELK();

function Layer({ data }: NodeProps<LayerNode>) {
  return (
    <div className={`graph-node graph-node-${data.type}`} style={{ borderLeftColor: data.color }}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <span className="graph-node-title">{data.title}</span>
      {data.parts.length > 0 && (
        <span className="graph-node-parts">
          {data.parts.map((part) => (
            <span key={part.text} className={`graph-part graph-part-${part.kind}`}>
              {part.text}
            </span>
          ))}
        </span>
      )}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}

const NODE_TYPES = { layer: Layer };

function ZoomButtons() {
  const flow = useReactFlow();
  return (
    <div role="group" aria-label="Graph zoom" className="graph-zoom">
      <button type="button" onClick={() => void flow.zoomIn()}>
        Zoom in
      </button>
      <button type="button" onClick={() => void flow.zoomOut()}>
        Zoom out
      </button>
      <button type="button" onClick={() => void flow.fitView()}>
        Fit view
      </button>
    </div>
  );
}

export default function NetworkGraph({ graph }: { graph: ModelGraph }) {
  const [flow, setFlow] = useState<{ nodes: LayerNode[]; edges: Edge[] } | null>(null);
  const [failure, setFailure] = useState<unknown>(null);

  useEffect(() => {
    let current = true;
    elk
      .layout(toElkGraph(graph))
      .then((laidOut) => current && setFlow(toFlow(graph, laidOut)))
      .catch((error: unknown) => current && setFailure(error ?? new Error("layout failed")));
    return () => {
      current = false;
    };
  }, [graph]);

  if (failure) throw failure; // to the chart's error boundary
  if (!flow) return <Loading label="Laying out the graph…" />;
  return (
    <ReactFlowProvider>
      <ZoomButtons />
      <div role="img" aria-label="Network graph" className="results-graph">
        <ReactFlow
          nodes={flow.nodes}
          edges={flow.edges}
          nodeTypes={NODE_TYPES}
          colorMode="system"
          fitView
          minZoom={0.2}
          nodesDraggable={false}
          nodesConnectable={false}
          nodesFocusable={false}
          edgesFocusable={false}
          elementsSelectable={false}
          zoomOnScroll={false}
          preventScrolling={false}
          proOptions={{ hideAttribution: true }}
        />
      </div>
    </ReactFlowProvider>
  );
}
