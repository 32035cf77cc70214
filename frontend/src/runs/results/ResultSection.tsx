// One titled part of the results: a region named by its heading, and the frame that
// loads a chart's code on demand and says so when it cannot draw.
import { Component, Suspense, useId, type ReactNode } from "react";
import { Loading } from "@/components/states";

export function ResultSection({
  title,
  children,
  wide = false,
}: {
  title: string;
  children: ReactNode;
  wide?: boolean;
}) {
  const id = useId();
  return (
    <section aria-labelledby={id} className={wide ? "results-section results-wide" : "results-section"}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/** What a section shows when the run has nothing for it. */
export function NoData({ children }: { children: ReactNode }) {
  return <p className="results-empty">{children}</p>;
}

class ChartBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  state = { failed: false };

  static getDerivedStateFromError() {
    return { failed: true };
  }

  render() {
    if (this.state.failed) {
      return (
        <p role="alert" className="results-empty">
          The chart could not be drawn. Reloading the page may help.
        </p>
      );
    }
    return this.props.children;
  }
}

/** A lazily loaded chart: a loading state while its code arrives, a message if it fails. */
export function ChartFrame({ children }: { children: ReactNode }) {
  return (
    <ChartBoundary>
      <Suspense fallback={<Loading label="Loading chart…" />}>{children}</Suspense>
    </ChartBoundary>
  );
}
