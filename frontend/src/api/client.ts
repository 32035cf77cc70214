// The one HTTP client: typed from the OpenAPI schema (openapi-fetch over the generated
// `paths`), same-origin session cookie, Django's CSRF header on every write, and one
// vocabulary of errors (`ApiError`) for every screen.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./openapi";

export type Schemas = components["schemas"];

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** Fired when the server says the session is gone; the app sends the user to sign in. */
export const SESSION_EXPIRED = "medilytica:session-expired";

const sessionMiddleware: Middleware = {
  onRequest({ request }) {
    if (UNSAFE.has(request.method)) request.headers.set("X-CSRFToken", csrfToken());
    return request;
  },
  onResponse({ request, response }) {
    const auth = new URL(request.url).pathname.startsWith("/api/auth/login");
    if (response.status === 401 && !auth) window.dispatchEvent(new Event(SESSION_EXPIRED));
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: typeof window === "undefined" ? "http://localhost" : window.location.origin,
  credentials: "same-origin",
  // Looked up on each call rather than kept from load time, so a test's stub is used.
  fetch: (request) => globalThis.fetch(request),
});
api.use(sessionMiddleware);

/** An API error as the server worded it: `{detail, code}` or field errors. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: Record<string, string[]>;

  constructor(status: number, body: unknown) {
    const { message, code, fields } = describe(status, body);
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

function describe(status: number, body: unknown) {
  const fields: Record<string, string[]> = {};
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    if (typeof record.detail === "string") {
      return { message: record.detail, code: String(record.code ?? status), fields };
    }
    for (const [name, value] of Object.entries(record)) {
      fields[name] = Array.isArray(value) ? value.map(String) : [String(value)];
    }
    const first = Object.entries(fields)[0];
    if (first) {
      const label = first[0] === "non_field_errors" ? "" : `${first[0]}: `;
      return { message: `${label}${first[1].join(" ")}`, code: "invalid", fields };
    }
  }
  if (status === 0) return { message: "The server could not be reached.", code: "network", fields };
  return { message: `The server answered ${status}.`, code: String(status), fields };
}

/** Unwraps an openapi-fetch result: its data, or an ApiError to throw. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result;
  try {
    result = await call;
  } catch {
    throw new ApiError(0, null);
  }
  if (result.error !== undefined || !result.response.ok) {
    throw new ApiError(result.response.status, result.error);
  }
  return result.data as T;
}

/** Whether an error means "not there or not yours" (the API answers 404 for both). */
export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}
