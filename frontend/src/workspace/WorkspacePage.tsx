// The current workspace's members; owners add members, change a role (by adding the same
// username again) and remove members.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { ApiError, api, unwrap, type Schemas } from "@/api/client";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { QueryState } from "@/components/states";
import { useTitle } from "@/components/useTitle";
import { useWorkspace } from "./WorkspaceContext";
import "./workspace.css";

type Member = Schemas["Membership"];
type Role = Schemas["RoleEnum"];
const ROLES: Role[] = ["owner", "editor", "viewer"];

function useInvalidateWorkspace(id: string) {
  const client = useQueryClient();
  return () =>
    Promise.all([
      client.invalidateQueries({ queryKey: ["workspace", id] }),
      client.invalidateQueries({ queryKey: ["me"] }),
    ]);
}

export default function WorkspacePage() {
  const { workspace } = useWorkspace();
  useTitle(workspace.name);
  const details = useQuery({
    queryKey: ["workspace", workspace.id],
    queryFn: () => unwrap(api.GET("/api/workspaces/{id}/", { params: { path: { id: workspace.id } } })),
  });
  const isOwner = workspace.role === "owner";
  return (
    <>
      <div className="page-header">
        <h1>{workspace.name}</h1>
        <span className="badge">Your role: {workspace.role}</span>
      </div>
      {details.data?.description && <p className="workspace-description">{details.data.description}</p>}
      <h2>Members</h2>
      {isOwner && <AddMemberForm workspaceId={workspace.id} />}
      <QueryState query={details} label="Loading members…">
        {(data) => <MembersTable workspaceId={workspace.id} members={data.members} isOwner={isOwner} />}
      </QueryState>
    </>
  );
}

function MembersTable({
  workspaceId,
  members,
  isOwner,
}: {
  workspaceId: string;
  members: Member[];
  isOwner: boolean;
}) {
  const [target, setTarget] = useState<Member | null>(null);
  const invalidate = useInvalidateWorkspace(workspaceId);
  const remove = useMutation({
    mutationFn: (member: Member) =>
      unwrap(
        api.DELETE("/api/workspaces/{id}/members/{user_id}/", {
          params: { path: { id: workspaceId, user_id: member.user_id } },
        }),
      ),
    onSuccess: () => {
      setTarget(null);
      return invalidate();
    },
  });
  const close = () => {
    setTarget(null);
    remove.reset();
  };
  return (
    <>
      <table aria-label="Members" className="members-table">
        <thead>
          <tr>
            <th scope="col">Username</th>
            <th scope="col">Role</th>
            <th scope="col">Member since</th>
            {isOwner && (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {members.map((member) => (
            <tr key={member.user_id}>
              <th scope="row">{member.username}</th>
              <td>
                <span className={`badge role-${member.role}`}>{member.role}</span>
              </td>
              <td>
                <time dateTime={member.created_at}>{new Date(member.created_at).toLocaleDateString()}</time>
              </td>
              {isOwner && (
                <td>
                  <button type="button" aria-label={`Remove ${member.username}`} onClick={() => setTarget(member)}>
                    Remove
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <ConfirmDialog
        open={target !== null}
        title="Remove member?"
        confirmLabel="Remove"
        busy={remove.isPending}
        onCancel={close}
        onConfirm={() => target && remove.mutate(target)}
      >
        <p>{target?.username} will lose access to this workspace's datasets, runs and models at once.</p>
        {remove.error && (
          <p role="alert" className="error">
            {remove.error.message}
          </p>
        )}
      </ConfirmDialog>
    </>
  );
}

function AddMemberForm({ workspaceId }: { workspaceId: string }) {
  const ids = { username: useId(), role: useId(), help: useId() };
  const invalidate = useInvalidateWorkspace(workspaceId);
  const [done, setDone] = useState<string | null>(null);
  const add = useMutation({
    mutationFn: (body: { username: string; role: Role }) =>
      unwrap(api.POST("/api/workspaces/{id}/members/", { params: { path: { id: workspaceId } }, body })),
    onSuccess: (member) => {
      setDone(`${member.username} is now ${member.role === "viewer" ? "a" : "an"} ${member.role}.`);
      return invalidate();
    },
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    setDone(null);
    add.mutate(
      { username: String(data.get("username") ?? "").trim(), role: String(data.get("role")) as Role },
      { onSuccess: () => form.reset() },
    );
  }

  const error = add.error;
  // A field error reads best without the field's name in front ("No active user named …").
  const message =
    error instanceof ApiError
      ? (error.fields.username?.[0] ?? error.fields.role?.[0] ?? error.message)
      : error?.message;
  return (
    <form className="card add-member" onSubmit={submit} aria-label="Add a member">
      <div>
        <label htmlFor={ids.username}>Username</label>
        <input
          id={ids.username}
          name="username"
          required
          autoComplete="off"
          aria-invalid={error instanceof ApiError && "username" in error.fields ? true : undefined}
          aria-describedby={ids.help}
        />
      </div>
      <div>
        <label htmlFor={ids.role}>Role</label>
        <select id={ids.role} name="role" defaultValue="viewer">
          {ROLES.map((role) => (
            <option key={role} value={role}>
              {role}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" className="primary" disabled={add.isPending}>
        Add member
      </button>
      <p id={ids.help} className="field-help add-member-help">
        Viewers read; editors also upload and train; owners also manage members. Adding an existing member
        changes their role.
      </p>
      {message && (
        <p role="alert" className="error add-member-help">
          {message}
        </p>
      )}
      <p role="status" className="add-member-help">
        {done}
      </p>
    </form>
  );
}
