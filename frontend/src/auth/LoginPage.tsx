import { useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { ApiError } from "@/api/client";
import { useTitle } from "@/components/useTitle";
import { register, safeNext, signIn, useMe } from "./session";

export function LoginPage({ mode = "login" }: { mode?: "login" | "register" }) {
  const registering = mode === "register";
  useTitle(registering ? "Create an account" : "Sign in");
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const me = useMe();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ids = { user: useId(), password: useId(), email: useId(), error: useId() };

  if (me.data) return <Navigate to={next} replace />;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const username = String(form.get("username") ?? "").trim();
    const password = String(form.get("password") ?? "");
    setBusy(true);
    setError(null);
    try {
      if (registering) await register(username, password, String(form.get("email") ?? "") || undefined);
      const user = await signIn(username, password);
      client.setQueryData(["me"], user);
      navigate(next, { replace: true });
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "The server could not be reached.");
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="content" className="login">
      <h1>MediLytica</h1>
      <form onSubmit={submit} aria-describedby={error ? ids.error : undefined} className="card">
        <h2>{registering ? "Create an account" : "Sign in"}</h2>
        {params.get("expired") && !registering && (
          <p role="status">Your session has ended. Sign in to go on where you were.</p>
        )}
        <label htmlFor={ids.user}>Username</label>
        <input id={ids.user} name="username" autoComplete="username" required autoFocus />
        {registering && (
          <>
            <label htmlFor={ids.email}>Email (optional)</label>
            <input id={ids.email} name="email" type="email" autoComplete="email" />
          </>
        )}
        <label htmlFor={ids.password}>Password</label>
        <input
          id={ids.password}
          name="password"
          type="password"
          autoComplete={registering ? "new-password" : "current-password"}
          required
        />
        {error && (
          <p id={ids.error} role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {registering ? "Create account" : "Sign in"}
        </button>
        <p>
          {registering ? (
            <Link to={`/login?next=${encodeURIComponent(next)}`}>I have an account</Link>
          ) : (
            <Link to={`/register?next=${encodeURIComponent(next)}`}>Create an account</Link>
          )}
        </p>
      </form>
    </main>
  );
}
