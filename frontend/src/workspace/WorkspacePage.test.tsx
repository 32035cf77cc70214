import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { renderScreen, stubFetch, testUser } from "@/test/render";
import WorkspacePage from "./WorkspacePage";


const WS = testUser.workspaces[0].id;
const BOB = "00000000-0000-4000-8000-000000000002";

function member(user_id: string, username: string, role: string) {
  return { user_id, username, role, created_at: "2025-01-02T10:00:00Z" };
}

function workspace(members: ReturnType<typeof member>[]) {
  return {
    id: WS,
    name: "Cardiology",
    description: "",
    is_personal: false,
    role: "owner",
    members,
    created_at: "2025-01-01T10:00:00Z",
    updated_at: "2025-01-01T10:00:00Z",
  };
}

// Typing and role queries are slow on a busy machine; the default 5 s is too tight there.
describe("WorkspacePage", { timeout: 20_000 }, () => {
  it("lists the members and adds one", async () => {
    let members = [member(testUser.id, "alice", "owner")];
    const posted: unknown[] = [];
    stubFetch({
      [`GET /api/workspaces/${WS}/`]: () => workspace(members),
      [`POST /api/workspaces/${WS}/members/`]: async (request: Request) => {
        const body = (await request.json()) as { username: string; role: string };
        posted.push(body);
        const added = member(BOB, body.username, body.role);
        members = [...members, added];
        return new Response(JSON.stringify(added), { status: 201, headers: { "Content-Type": "application/json" } });
      },
      "GET /api/auth/me/": testUser,
    });
    const user = userEvent.setup();
    renderScreen(<WorkspacePage />);
    expect(screen.getByRole("heading", { level: 1, name: "Cardiology" })).toBeInTheDocument();
    const table = await screen.findByRole("table", { name: "Members" });
    expect(within(table).getByRole("row", { name: /alice/ })).toHaveTextContent("owner");

    await user.type(screen.getByLabelText("Username"), "bob");
    await user.selectOptions(screen.getByLabelText("Role"), "editor");
    await user.click(screen.getByRole("button", { name: "Add member" }));

    expect(await screen.findByRole("status")).toHaveTextContent("bob is now an editor.");
    expect(await within(table).findByRole("row", { name: /bob/ })).toHaveTextContent("editor");
    expect(posted).toEqual([{ username: "bob", role: "editor" }]);
  });

  it("shows the server's words when a member cannot be added", async () => {
    stubFetch({
      [`GET /api/workspaces/${WS}/`]: workspace([member(testUser.id, "alice", "owner")]),
      [`POST /api/workspaces/${WS}/members/`]: () =>
        new Response(JSON.stringify({ username: ["No active user named 'zed'."] }), {
          status: 400,
          headers: { "Content-Type": "application/json" },
        }),
    });
    const user = userEvent.setup();
    renderScreen(<WorkspacePage />);
    await user.type(await screen.findByLabelText("Username"), "zed");
    await user.click(screen.getByRole("button", { name: "Add member" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("No active user named 'zed'.");
    expect(screen.getByLabelText("Username")).toHaveValue("zed");
  });

  it("asks before removing a member, then removes them", async () => {
    let members = [member(testUser.id, "alice", "owner"), member(BOB, "bob", "viewer")];
    const calls = stubFetch({
      [`GET /api/workspaces/${WS}/`]: () => workspace(members),
      [`DELETE /api/workspaces/${WS}/members/${BOB}/`]: () => {
        members = members.filter((m) => m.user_id !== BOB);
        return new Response(null, { status: 204 });
      },
      "GET /api/auth/me/": testUser,
    });
    const user = userEvent.setup();
    renderScreen(<WorkspacePage />);
    await user.click(await screen.findByRole("button", { name: "Remove bob" }));
    expect(calls.some((call) => call.method === "DELETE")).toBe(false);
    await user.click(within(screen.getByRole("dialog", { name: "Remove member?" })).getByRole("button", { name: "Remove" }));
    await waitFor(() => expect(screen.queryByRole("row", { name: /bob/ })).not.toBeInTheDocument());
    expect(calls.filter((call) => call.method === "DELETE")).toHaveLength(1);
  });

  it("shows members but no member controls to a non-owner", async () => {
    stubFetch({ [`GET /api/workspaces/${WS}/`]: workspace([member(testUser.id, "alice", "editor")]) });
    renderScreen(<WorkspacePage />, {
      me: { ...testUser, workspaces: [{ ...testUser.workspaces[0], role: "editor" }] },
    });
    expect(await screen.findByRole("table", { name: "Members" })).toBeInTheDocument();
    expect(screen.queryByLabelText("Username")).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /Remove/ })).not.toBeInTheDocument();
  });
});
