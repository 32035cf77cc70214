// Every screen is a deep link; each screen's code loads when it is first opened, so the
// sign-in page carries none of the charts, the graph or the tables.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { createBrowserRouter, Navigate, Outlet, useLocation, useNavigate } from "react-router";
import { SESSION_EXPIRED } from "@/api/client";
import { LoginPage } from "@/auth/LoginPage";
import { useMe } from "@/auth/session";
import { ErrorState, Loading } from "@/components/states";
import { Layout } from "./Layout";
import { NotFoundPage } from "./NotFoundPage";

/** Signed-in pages: the layout when signed in, else the sign-in page with a way back. */
function RequireAuth() {
  const me = useMe();
  const location = useLocation();
  const here = `${location.pathname}${location.search}`;
  if (me.isPending) return <Loading label="Signing in…" />;
  if (me.error) return <ErrorState error={me.error} retry={() => void me.refetch()} />;
  if (!me.data) return <Navigate to={`/login?next=${encodeURIComponent(here)}`} replace />;
  return <Layout me={me.data} />;
}

/** A 401 from any call means the session ended: sign in again, then come back here. */
function SessionWatch() {
  const client = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  useEffect(() => {
    const expired = () => {
      if (location.pathname === "/login" || location.pathname === "/register") return;
      // Nobody was signed in (a first visit's /api/auth/me): RequireAuth sends them to sign in.
      if (!client.getQueryData(["me"])) return;
      const here = `${location.pathname}${location.search}`;
      navigate(`/login?expired=1&next=${encodeURIComponent(here)}`, { replace: true });
      // Forgotten, not set to null: a null here would make RequireAuth redirect too, without the reason.
      client.removeQueries({ queryKey: ["me"] });
    };
    window.addEventListener(SESSION_EXPIRED, expired);
    return () => window.removeEventListener(SESSION_EXPIRED, expired);
  }, [client, navigate, location]);
  return <Outlet />;
}

const screen = (load: () => Promise<{ default: React.ComponentType }>) => async () => ({
  Component: (await load()).default,
});

export const routes = [
  {
    element: <SessionWatch />,
    hydrateFallbackElement: <Loading label="Loading…" />,
    errorElement: <ErrorState error={new Error("This page failed to load.")} />,
    children: [
      { path: "/login", element: <LoginPage /> },
      { path: "/register", element: <LoginPage mode="register" /> },
      {
        element: <RequireAuth />,
        children: [
          { path: "/", lazy: screen(() => import("@/overview/OverviewPage")) },
          { path: "/datasets", lazy: screen(() => import("@/datasets/DatasetsPage")) },
          { path: "/datasets/:id", lazy: screen(() => import("@/datasets/DatasetPage")) },
          { path: "/runs", lazy: screen(() => import("@/runs/list/RunsPage")) },
          { path: "/runs/new", lazy: screen(() => import("@/runs/NewRunPage")) },
          { path: "/runs/:id", lazy: screen(() => import("@/runs/RunPage")) },
          { path: "/compare", lazy: screen(() => import("@/compare/ComparePage")) },
          { path: "/workspace", lazy: screen(() => import("@/workspace/WorkspacePage")) },
          { path: "*", element: <NotFoundPage /> },
        ],
      },
    ],
  },
];

export function makeRouter() {
  return createBrowserRouter(routes);
}
