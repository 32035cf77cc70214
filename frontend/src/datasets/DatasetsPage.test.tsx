import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "@/api/client";
import { renderScreen, stubFetch, testUser } from "@/test/render";
import DatasetsPage from "./DatasetsPage";
import { uploadDataset } from "./upload";


vi.mock("./upload", () => ({ uploadDataset: vi.fn() }));

const workspace = testUser.workspaces[0].id;

function summary(overrides: Record<string, unknown> = {}) {
  return {
    id: "11111111-1111-4111-8111-111111111111",
    workspace,
    name: "heart",
    description: "",
    original_filename: "heart.csv",
    format: "csv",
    compression: "",
    encoding: "utf-8",
    delimiter: ",",
    size_bytes: 2_400_000,
    sha256: "ab".repeat(32),
    rows: 303,
    n_columns: 14,
    status: "ready",
    stage: "",
    error: "",
    error_code: "",
    created_by: "alice",
    created_at: "2025-01-02T10:00:00Z",
    updated_at: "2025-01-02T10:00:00Z",
    ...overrides,
  };
}

const page = (results: unknown[]) => ({ count: results.length, next: null, previous: null, results });

// Typing and role queries are slow on a busy machine; the default 5 s is too tight there.
describe("DatasetsPage", { timeout: 20_000 }, () => {
  it("lists the workspace's datasets", async () => {
    const calls = stubFetch({
      "GET /api/data/": page([
        summary(),
        summary({ id: "22222222-2222-4222-8222-222222222222", name: "scans", status: "rejected", error: "Not a table." }),
        summary({ id: "33333333-3333-4333-8333-333333333333", name: "labs", status: "processing", stage: "queued" }),
      ]),
    });
    renderScreen(<DatasetsPage />);
    expect(screen.getByRole("heading", { level: 1, name: "Datasets" })).toBeInTheDocument();
    const table = await screen.findByRole("table", { name: "Datasets" });
    const heart = within(table).getByRole("row", { name: /heart/ });
    expect(within(heart).getByRole("link", { name: "heart" })).toHaveAttribute(
      "href",
      "/datasets/11111111-1111-4111-8111-111111111111",
    );
    expect(within(heart).getByText("303")).toBeInTheDocument();
    expect(within(heart).getByText("Ready")).toBeInTheDocument();
    expect(within(heart).getByText("2.4 MB")).toBeInTheDocument();
    const scans = within(table).getByRole("row", { name: /scans/ });
    expect(within(scans).getByText("Rejected")).toBeInTheDocument();
    expect(within(scans).getByText("Not a table.")).toBeInTheDocument();
    const labs = within(table).getByRole("row", { name: /labs/ });
    expect(within(labs).getByText("Processing")).toBeInTheDocument();
    expect(within(labs).getByText("waiting for a worker (step 1 of 5)")).toBeInTheDocument();
    expect(new URL(calls[0].url).searchParams.get("workspace")).toBe(workspace);
  });

  it("shows the empty state with the upload form", async () => {
    stubFetch({ "GET /api/data/": page([]) });
    renderScreen(<DatasetsPage />);
    expect(await screen.findByRole("heading", { name: "No datasets yet" })).toBeInTheDocument();
    expect(screen.getByLabelText("Dataset file")).toBeInTheDocument();
    expect(screen.getAllByRole("button", { name: "Upload" })).toHaveLength(1);
  });

  it("shows the server's words when an upload fails and keeps the chosen file", async () => {
    stubFetch({ "GET /api/data/": page([]) });
    vi.mocked(uploadDataset).mockImplementation(async () => {
      throw new ApiError(400, { detail: "This file is not a table: no delimiter found.", code: "not_tabular" });
    });
    const user = userEvent.setup();
    renderScreen(<DatasetsPage />);
    const input = await screen.findByLabelText<HTMLInputElement>("Dataset file");
    const file = new File(["a;b\n"], "notes.txt", { type: "text/plain" });
    await user.upload(input, file);
    await user.type(screen.getByLabelText("Name"), "Notes");
    await user.click(screen.getByRole("button", { name: "Upload" }));

    expect(await screen.findByRole("alert")).toHaveTextContent("This file is not a table: no delimiter found.");
    expect(input.files?.[0]).toBe(file);
    expect(screen.getByLabelText("Name")).toHaveValue("Notes");
    expect(vi.mocked(uploadDataset).mock.calls[0][0]).toMatchObject({ file, name: "Notes", workspace });
  });

  it("asks before deleting, then deletes", async () => {
    let listed = [summary()];
    const calls = stubFetch({
      "GET /api/data/": () => page(listed),
      "DELETE /api/data/11111111-1111-4111-8111-111111111111/": () => {
        listed = [];
        return new Response(null, { status: 204 });
      },
    });
    const user = userEvent.setup();
    renderScreen(<DatasetsPage />);
    await user.click(await screen.findByRole("button", { name: "Delete heart" }));

    const dialog = screen.getByRole("dialog", { name: "Delete dataset?" });
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    await user.click(within(dialog).getByRole("button", { name: "Delete" }));

    await waitFor(() => expect(calls.filter((c) => c.method === "DELETE")).toHaveLength(1));
    expect(await screen.findByRole("heading", { name: "No datasets yet" })).toBeInTheDocument();
  });

  it("does not offer upload or delete to a viewer", async () => {
    stubFetch({ "GET /api/data/": page([summary()]) });
    renderScreen(<DatasetsPage />, {
      me: { ...testUser, workspaces: [{ ...testUser.workspaces[0], role: "viewer" }] },
    });
    expect(await screen.findByRole("link", { name: "heart" })).toBeInTheDocument();
    expect(screen.queryByLabelText("Dataset file")).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Delete heart" })).not.toBeInTheDocument();
  });
});
