// Renders a screen the way the app does: a fresh query client, a memory router, and
// (where given) a signed-in user with a workspace.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { createMemoryRouter, RouterProvider } from "react-router";
import type { Me } from "@/auth/session";
import { WorkspaceProvider } from "@/workspace/WorkspaceContext";

export const testUser: Me = {
  id: "00000000-0000-4000-8000-000000000001",
  username: "alice",
  email: "alice@example.org",
  workspaces: [{ id: "00000000-0000-4000-8000-0000000000aa", name: "Cardiology", role: "owner" }],
};

export function renderScreen(
  element: ReactElement,
  { path = "/", route = "/", me = testUser }: { path?: string; route?: string; me?: Me | null } = {},
) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const wrapped = me ? <WorkspaceProvider me={me}>{element}</WorkspaceProvider> : element;
  const router = createMemoryRouter([{ path, element: wrapped }, { path: "*", element: <p>elsewhere</p> }], {
    initialEntries: [route],
  });
  return { client, router, ...render(<QueryClientProvider client={client}><RouterProvider router={router} /></QueryClientProvider>) };
}

/** A fetch stub answering by "METHOD path" (query string ignored); others get 404. */
export function stubFetch(answers: Record<string, unknown | ((request: Request) => unknown)>) {
  const calls: Request[] = [];
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    calls.push(request);
    const url = new URL(request.url);
    const key = `${request.method} ${url.pathname}`;
    const answer = key in answers ? answers[key] : undefined;
    if (answer === undefined) {
      return new Response(JSON.stringify({ detail: "Not found.", code: "not_found" }), {
        status: 404,
        headers: { "Content-Type": "application/json" },
      });
    }
    const body = typeof answer === "function" ? await (answer as (r: Request) => unknown)(request) : answer;
    if (body instanceof Response) return body;
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  }) as typeof fetch;
  return calls;
}
