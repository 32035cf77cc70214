// The current workspace: part of the app's state and of every list query (?workspace=).
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import type { Me } from "@/auth/session";

export type WorkspaceRef = Me["workspaces"][number];

interface WorkspaceState {
  workspace: WorkspaceRef;
  workspaces: WorkspaceRef[];
  setWorkspace: (id: string) => void;
  /** Editors and owners may write; viewers only read. */
  canEdit: boolean;
}

const Context = createContext<WorkspaceState | null>(null);
const STORAGE_KEY = "medilytica.workspace";

export function WorkspaceProvider({ me, children }: { me: Me; children: ReactNode }) {
  const [chosen, setChosen] = useState<string | null>(() => localStorage.getItem(STORAGE_KEY));
  const workspaces = me.workspaces;
  const workspace = workspaces.find((w) => w.id === chosen) ?? workspaces[0];
  const setWorkspace = useCallback((id: string) => {
    localStorage.setItem(STORAGE_KEY, id);
    setChosen(id);
  }, []);
  const value = useMemo(
    () =>
      workspace && {
        workspace,
        workspaces,
        setWorkspace,
        canEdit: workspace.role === "owner" || workspace.role === "editor",
      },
    [workspace, workspaces, setWorkspace],
  );
  if (!value) {
    return (
      <main id="content" className="page">
        <h1>No workspace</h1>
        <p>You are not a member of any workspace yet. Ask an owner to add you.</p>
      </main>
    );
  }
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useWorkspace(): WorkspaceState {
  const state = useContext(Context);
  if (!state) throw new Error("useWorkspace needs a WorkspaceProvider");
  return state;
}
