import { useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, api, unwrap, type Schemas } from "@/api/client";

export type Me = Schemas["Me"];

export const meQuery = {
  queryKey: ["me"] as const,
  queryFn: () => unwrap(api.GET("/api/auth/me/")),
  staleTime: 60_000,
  retry: (count: number, error: unknown) =>
    !(error instanceof ApiError && error.status < 500) && count < 2,
};

/** The signed-in user, or null when nobody is signed in. */
export function useMe() {
  const query = useQuery({
    ...meQuery,
    queryFn: async (): Promise<Me | null> => {
      try {
        return await meQuery.queryFn();
      } catch (error) {
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return null;
        throw error;
      }
    },
  });
  return query;
}

/** Fetches the CSRF cookie (GET /api/auth/login) and posts the credentials. */
export async function signIn(username: string, password: string): Promise<Me> {
  await unwrap(api.GET("/api/auth/login/"));
  return unwrap(api.POST("/api/auth/login/", { body: { username, password } }));
}

export async function register(username: string, password: string, email?: string) {
  await unwrap(api.GET("/api/auth/login/")); // the CSRF cookie
  return unwrap(api.POST("/api/auth/register/", { body: { username, password, email } }));
}

export function useSignOut() {
  const client = useQueryClient();
  return async () => {
    try {
      await unwrap(api.POST("/api/auth/logout/", { body: {} }));
    } finally {
      client.clear();
      client.setQueryData(["me"], null);
    }
  };
}

/** Where to come back to after signing in: only same-app paths, never another site. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/login")) {
    return "/";
  }
  return next;
}
