// The model's graph: layers of a neural network (or a tree's top levels, a linear
// model's features) as a diagram, and as an ordered list for screen readers.
import { lazy } from "react";
import { ErrorState, Loading } from "@/components/states";
import { graphDescription } from "./graphLayout";
import { ChartFrame, ResultSection } from "./ResultSection";
import type { ModelGraph } from "./types";

const NetworkGraph = lazy(() => import("./NetworkGraph"));

export function GraphSection({
  query,
}: {
  query: { isPending: boolean; error: unknown; data: ModelGraph | null | undefined; refetch: () => unknown };
}) {
  if (!query.isPending && !query.error && !query.data) return null; // the model has no graph
  return (
    <ResultSection title="Network graph" wide>
      {query.isPending ? (
        <Loading label="Loading the graph…" />
      ) : query.error || !query.data ? (
        <ErrorState error={query.error} retry={() => void query.refetch()} />
      ) : (
        <>
          <p className="results-fact">{graphDescription(query.data)}</p>
          <ol className="visually-hidden" aria-label="Layers">
            {query.data.nodes.map((node) => (
              <li key={node.id}>{node.label}</li>
            ))}
          </ol>
          <ChartFrame>
            <NetworkGraph graph={query.data} />
          </ChartFrame>
        </>
      )}
    </ResultSection>
  );
}
