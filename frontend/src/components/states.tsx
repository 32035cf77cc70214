// Loading, empty and error states: every page shows one of these rather than nothing.
import type { ReactNode } from "react";
import { ApiError } from "@/api/client";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p role="status" className="state state-loading">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <h2>{title}</h2>
      {children}
    </div>
  );
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  const message = error instanceof Error ? error.message : "Something went wrong.";
  const notFound = error instanceof ApiError && error.status === 404;
  return (
    <div role="alert" className="state state-error">
      <h2>{notFound ? "Not found" : "Could not load this"}</h2>
      <p>{notFound ? "It does not exist, or it belongs to a workspace you are not in." : message}</p>
      {retry && !notFound && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** A query's three states in one place: loading, error, or the children with data. */
export function QueryState<T>({
  query,
  children,
  label,
}: {
  query: { isPending: boolean; error: unknown; data: T | undefined; refetch: () => unknown };
  children: (data: T) => ReactNode;
  label?: string;
}) {
  if (query.isPending) return <Loading label={label} />;
  if (query.error) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  return <>{children(query.data as T)}</>;
}
