// The frame of every signed-in page: skip link, header (navigation, workspace switcher
// with the user's role, sign out), the page, and the notification socket that keeps
// the lists fresh.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useId } from "react";
import { NavLink, Outlet, useNavigate } from "react-router";
import { LiveSocket } from "@/api/socket";
import type { NotificationMessage } from "@/api/ws";
import type { Me } from "@/auth/session";
import { useSignOut } from "@/auth/session";
import { useWorkspace, WorkspaceProvider } from "@/workspace/WorkspaceContext";

const NAV = [
  { to: "/", label: "Overview", end: true },
  { to: "/datasets", label: "Datasets" },
  { to: "/runs", label: "Runs" },
  { to: "/compare", label: "Compare" },
  { to: "/workspace", label: "Workspace" },
];

export function Layout({ me }: { me: Me }) {
  return (
    <WorkspaceProvider me={me}>
      <a className="skip-link" href="#content">
        Skip to content
      </a>
      <Header me={me} />
      <Notifications />
      <main id="content" className="page" tabIndex={-1}>
        <Outlet />
      </main>
    </WorkspaceProvider>
  );
}

function Header({ me }: { me: Me }) {
  const { workspace, workspaces, setWorkspace } = useWorkspace();
  const signOut = useSignOut();
  const navigate = useNavigate();
  const switcher = useId();
  return (
    <header className="app-header">
      <NavLink to="/" className="brand" aria-label="MediLytica home">
        MediLytica
      </NavLink>
      <nav aria-label="Main">
        <ul>
          {NAV.map((item) => (
            <li key={item.to}>
              <NavLink to={item.to} end={item.end}>
                {item.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <div className="header-end">
        <label htmlFor={switcher} className="visually-hidden">
          Workspace
        </label>
        <select
          id={switcher}
          value={workspace.id}
          onChange={(event) => setWorkspace(event.target.value)}
        >
          {workspaces.map((w) => (
            <option key={w.id} value={w.id}>
              {w.name}
            </option>
          ))}
        </select>
        <span className={`badge role-${workspace.role}`} aria-label={`Your role: ${workspace.role}`}>
          {workspace.role}
        </span>
        <span className="user" aria-label={`Signed in as ${me.username}`}>
          {me.username}
        </span>
        <button
          type="button"
          onClick={async () => {
            await signOut();
            navigate("/login", { replace: true });
          }}
        >
          Sign out
        </button>
      </div>
    </header>
  );
}

/** Workspace events invalidate the lists they change (TanStack Query refetches them). */
function Notifications() {
  const client = useQueryClient();
  useEffect(() => {
    const socket = new LiveSocket<NotificationMessage>({
      path: "/ws/notifications",
      onMessage: (event) => {
        const kind = event.type;
        if (kind.startsWith("run.")) void client.invalidateQueries({ queryKey: ["runs"] });
        if (kind.startsWith("dataset.")) void client.invalidateQueries({ queryKey: ["datasets"] });
        if (kind.startsWith("model.")) void client.invalidateQueries({ queryKey: ["models"] });
      },
    });
    return () => socket.close();
  }, [client]);
  return null;
}
