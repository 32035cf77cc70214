import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { makeRun, page } from "@/runs/list/fixtures";
import { renderScreen, stubFetch, testUser } from "@/test/render";
import OverviewPage from "./OverviewPage";


const WORKSPACE = testUser.workspaces[0];
const DETAIL = {
  id: WORKSPACE.id,
  name: WORKSPACE.name,
  description: "",
  is_personal: false,
  role: "owner",
  created_at: "2025-01-01T00:00:00Z",
  updated_at: "2025-01-01T00:00:00Z",
  members: [
    { user_id: testUser.id, username: "alice", role: "owner", created_at: "2025-01-01T00:00:00Z" },
    { user_id: "00000000-0000-4000-8000-000000000002", username: "bob", role: "viewer", created_at: "2025-01-02T00:00:00Z" },
  ],
};

function card(name: string) {
  return screen.getByRole("region", { name });
}

// Many clicks, each re-rendering a table: more than the default 5 s on a busy machine.
describe("OverviewPage", { timeout: 15_000 }, () => {
  it("names the workspace and invites the next step in every empty card", async () => {
    stubFetch({
      "GET /api/train/": page([]),
      "GET /api/data/": page([]),
      "GET /api/models/": page([]),
      [`GET /api/workspaces/${WORKSPACE.id}/`]: DETAIL,
    });
    renderScreen(<OverviewPage />);
    expect(screen.getByRole("heading", { level: 1, name: "Cardiology" })).toBeInTheDocument();

    expect(await within(card("Recent runs")).findByRole("link", { name: "No runs yet — train a model" })).toHaveAttribute(
      "href",
      "/runs/new",
    );
    expect(await within(card("Datasets")).findByText("No datasets yet.")).toBeInTheDocument();
    expect(within(card("Datasets")).getByRole("link", { name: "Upload a dataset" })).toHaveAttribute("href", "/datasets");
    expect(await within(card("Models")).findByText(/No models yet/)).toBeInTheDocument();

    const members = card("Members");
    expect(await within(members).findByText("bob")).toBeInTheDocument();
    expect(within(members).getByText("viewer")).toBeInTheDocument();
  });

  it("lists the newest runs, datasets and models with links and statuses", async () => {
    const calls = stubFetch({
      "GET /api/train/": page([
        makeRun({ id: "a0000000-0000-4000-8000-000000000001", name: "forest", status: "running" }),
      ]),
      "GET /api/data/": page([
        { id: "d0000000-0000-4000-8000-000000000001", name: "Heart disease", rows: 303, n_columns: 14 },
      ]),
      "GET /api/models/": page([
        { id: "m0000000-0000-4000-8000-000000000001", name: "heart-forest", version: 3, status: "ready", task: "classification", created_at: "2025-01-03T00:00:00Z" },
        { id: "m0000000-0000-4000-8000-000000000002", name: "upload", version: 1, status: "processing", task: "", error: "", created_at: "2025-01-04T00:00:00Z" },
        { id: "m0000000-0000-4000-8000-000000000003", name: "evil", version: 2, status: "rejected", task: "", error: "Refused: the file references untrusted type(s) posix.system.", created_at: "2025-01-05T00:00:00Z" },
      ]),
      [`GET /api/workspaces/${WORKSPACE.id}/`]: DETAIL,
    });
    renderScreen(<OverviewPage />);

    const runs = card("Recent runs");
    expect(await within(runs).findByRole("link", { name: "forest" })).toHaveAttribute(
      "href",
      "/runs/a0000000-0000-4000-8000-000000000001",
    );
    expect(within(runs).getByText("running")).toBeInTheDocument();
    expect(await within(card("Datasets")).findByRole("link", { name: "Heart disease" })).toBeInTheDocument();
    expect(await within(card("Models")).findByText("heart-forest")).toBeInTheDocument();
    expect(within(card("Models")).getByText("v3")).toBeInTheDocument();
    // Uploads a worker is still checking, or refused, say so instead of a task.
    expect(within(card("Models")).getByText("Processing")).toBeInTheDocument();
    expect(within(card("Models")).getByText(/uploaded, being checked/)).toBeInTheDocument();
    expect(within(card("Models")).getByText("Rejected")).toBeInTheDocument();
    expect(within(card("Models")).getByText(/untrusted type\(s\) posix.system/)).toBeInTheDocument();

    const lists = calls.filter((c) => new URL(c.url).pathname !== `/api/workspaces/${WORKSPACE.id}/`);
    for (const call of lists) {
      const query = new URL(call.url).searchParams;
      expect(query.get("workspace")).toBe(WORKSPACE.id);
      expect(query.get("page_size")).toBe("5");
    }
  });
});
