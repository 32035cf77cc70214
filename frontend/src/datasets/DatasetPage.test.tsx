import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderScreen, stubFetch } from "@/test/render";
import DatasetPage from "./DatasetPage";


const ID = "11111111-1111-4111-8111-111111111111";
const TOTAL = 1_000_000;

function column(name: string, overrides: Record<string, unknown> = {}) {
  return {
    name,
    dtype: "int64",
    kind: "numeric",
    count: TOTAL,
    missing: 0,
    missing_fraction: 0,
    unique: 90,
    min: 18,
    max: 95,
    mean: 54.25,
    std: 9.1,
    top: [],
    likely_identifier: false,
    identifier_reason: null,
    ...overrides,
  };
}

function dataset(overrides: Record<string, unknown> = {}) {
  return {
    id: ID,
    workspace: "00000000-0000-4000-8000-0000000000aa",
    name: "admissions",
    description: "",
    original_filename: "admissions.csv.gz",
    format: "csv",
    compression: "gzip",
    encoding: "utf-8",
    delimiter: ",",
    size_bytes: 48_000_000,
    sha256: "0123456789abcdef".repeat(4),
    rows: TOTAL,
    n_columns: 3,
    status: "ready",
    stage: "",
    error: "",
    error_code: "",
    created_by: "alice",
    created_at: "2025-01-02T10:00:00Z",
    updated_at: "2025-01-02T10:00:00Z",
    columns: [
      column("mrn", {
        dtype: "string",
        kind: "text",
        unique: TOTAL,
        min: null,
        max: null,
        mean: null,
        likely_identifier: true,
        identifier_reason: "the column name suggests a patient or record identifier",
      }),
      column("age", { missing: 2_500, missing_fraction: 0.0025 }),
      column("outcome", {
        dtype: "string",
        kind: "categorical",
        unique: 2,
        min: null,
        max: null,
        mean: null,
        top: [
          { value: "alive", count: 900_000 },
          { value: "died", count: 100_000 },
        ],
      }),
    ],
    suggested_targets: [{ column: "outcome", task: "classification", classes: 2, reason: "named like an outcome" }],
    ...overrides,
  };
}

/** A preview answering any window of a TOTAL-row dataset, like the server does. */
function preview(request: Request) {
  const query = new URL(request.url).searchParams;
  const offset = Number(query.get("offset"));
  const limit = Number(query.get("limit"));
  const count = Math.max(0, Math.min(limit, TOTAL - offset));
  return {
    columns: ["mrn", "age", "outcome"],
    rows: Array.from({ length: count }, (_, i) => [`MRN-${offset + i}`, 20 + ((offset + i) % 70), "alive"]),
    total_rows: TOTAL,
    offset,
    limit,
  };
}

// jsdom lays nothing out: give the preview's scroll box a size so rows come into view.
const sizes = { clientHeight: 480, clientWidth: 960 };
const saved = Object.fromEntries(
  Object.keys(sizes).map((key) => [key, Object.getOwnPropertyDescriptor(HTMLElement.prototype, key)]),
);
beforeAll(() => {
  for (const [key, value] of Object.entries(sizes)) {
    Object.defineProperty(HTMLElement.prototype, key, { configurable: true, get: () => value });
  }
});
afterAll(() => {
  for (const [key, descriptor] of Object.entries(saved)) {
    if (descriptor) Object.defineProperty(HTMLElement.prototype, key, descriptor);
  }
});

const route = { path: "/datasets/:id", route: `/datasets/${ID}` };
const previewPath = `GET /api/data/preview/${ID}/`;

// Role queries walk the accessibility tree of a page with two tables: slow on a busy machine.
describe("DatasetPage", { timeout: 20_000 }, () => {
  it("shows the summary and the profile with identifier badges", async () => {
    stubFetch({ [`GET /api/data/${ID}/`]: dataset(), [previewPath]: preview });
    renderScreen(<DatasetPage />, route);

    expect(await screen.findByRole("heading", { level: 1, name: "admissions" })).toBeInTheDocument();
    expect(screen.getByTitle("0123456789abcdef".repeat(4))).toHaveTextContent("0123456789ab…");
    expect(screen.getByRole("link", { name: "Train a model" })).toHaveAttribute("href", `/runs/new?dataset=${ID}`);
    expect(screen.getByRole("link", { name: "Download" })).toHaveAttribute("href", `/api/data/${ID}/download/`);

    const profile = screen.getByRole("table", { name: "Column profile" });
    const mrn = within(profile).getByRole("row", { name: /mrn/ });
    expect(within(mrn).getByText(/Likely identifier/)).toHaveTextContent(
      "Likely identifier: the column name suggests a patient or record identifier",
    );
    const age = within(profile).getByRole("row", { name: /age/ });
    expect(within(age).queryByText(/Likely identifier/)).not.toBeInTheDocument();
    expect(within(age).getByText("2,500")).toBeInTheDocument();
    expect(within(profile).getByText("alive ×900,000, died ×100,000")).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Suggested targets" })).toBeInTheDocument();
  });

  it("previews a million rows, fetching only the pages in view", async () => {
    const calls = stubFetch({ [`GET /api/data/${ID}/`]: dataset(), [previewPath]: preview });
    renderScreen(<DatasetPage />, route);

    const region = await screen.findByRole("region", { name: "Data preview" });
    const grid = within(region).getByRole("table", { name: "Dataset rows" });
    expect(grid).toHaveAttribute("aria-rowcount", String(TOTAL + 1));
    expect(await within(grid).findByRole("cell", { name: "MRN-0" })).toBeInTheDocument();
    expect(screen.getByText("Rows 1–14 of 1,000,000")).toBeInTheDocument();
    // Only what is in view (plus a little overscan) is in the document.
    expect(within(grid).getAllByRole("row").length).toBeLessThan(60);

    Object.defineProperty(region, "scrollTop", { configurable: true, value: 500_100 * 32 });
    fireEvent.scroll(region);
    expect(await screen.findByText("Rows 500,101–500,114 of 1,000,000")).toBeInTheDocument();
    const row = await within(grid).findByRole("row", { name: /^500,101 / });
    expect(row).toHaveAttribute("aria-rowindex", "500102");
    expect(await within(row).findByRole("cell", { name: "MRN-500100" })).toBeInTheDocument();

    const offsets = calls
      .filter((call) => new URL(call.url).pathname.startsWith("/api/data/preview/"))
      .map((call) => new URL(call.url).searchParams.get("offset"));
    expect(offsets).toEqual(["0", "500000"]);
  });

  it("shows why a rejected upload was refused", async () => {
    stubFetch({
      [`GET /api/data/${ID}/`]: dataset({ status: "rejected", error: "Line 3 has 4 fields; the header has 3." }),
    });
    renderScreen(<DatasetPage />, route);
    expect(await screen.findByRole("alert")).toHaveTextContent("Line 3 has 4 fields; the header has 3.");
    expect(screen.queryByRole("link", { name: "Train a model" })).not.toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "Preview" })).not.toBeInTheDocument();
  });

  it("says how far the worker is while it processes the upload, and offers nothing to read", async () => {
    stubFetch({
      [`GET /api/data/${ID}/`]: dataset({ status: "processing", stage: "profiling", rows: 0, n_columns: 0, columns: [] }),
    });
    renderScreen(<DatasetPage />, route);
    expect(await screen.findByText(/profiling the columns \(step 3 of 5\)/)).toHaveAttribute("role", "status");
    expect(screen.getByText("Processing")).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Train a model" })).not.toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Download" })).not.toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "Preview" })).not.toBeInTheDocument();
  });

  it("says not found for a dataset that is not there", async () => {
    stubFetch({});
    renderScreen(<DatasetPage />, route);
    expect(await screen.findByRole("heading", { name: "Not found" })).toBeInTheDocument();
  });

  it("asks before deleting, then goes back to the list", async () => {
    const calls = stubFetch({
      [`GET /api/data/${ID}/`]: dataset(),
      [previewPath]: preview,
      [`DELETE /api/data/${ID}/`]: () => new Response(null, { status: 204 }),
    });
    const user = userEvent.setup();
    const { router } = renderScreen(<DatasetPage />, route);
    await user.click(await screen.findByRole("button", { name: "Delete admissions" }));
    expect(calls.some((call) => call.method === "DELETE")).toBe(false);
    await user.click(within(screen.getByRole("dialog", { name: "Delete dataset?" })).getByRole("button", { name: "Delete" }));
    await waitFor(() => expect(router.state.location.pathname).toBe("/datasets"));
    expect(calls.filter((call) => call.method === "DELETE")).toHaveLength(1);
  });
});
