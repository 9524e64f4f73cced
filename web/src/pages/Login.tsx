import { useState, type FormEvent } from "react";
import { session, type Schemas } from "../api/client";
import { Field, Notice } from "../components/ui";
import { describe } from "../lib/problems";

export function Login({ onSignedIn }: { onSignedIn: () => void }) {
  const [identity, setIdentity] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const who = identity.trim();
    const body: Schemas["LoginRequest"] = who.includes("@") ? { email: who, password } : { username: who, password };
    try {
      const resp = await fetch("/api/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const data: unknown = await resp.json().catch(() => null);
      if (resp.ok) {
        setPassword("");
        session.accept(data as Schemas["TokenResponse"]);
        onSignedIn();
        return;
      }
      setError(resp.status === 401 ? "Wrong user name or password." : describe(resp.status, data, resp.headers.get("Retry-After")));
    } catch {
      setError("The API cannot be reached.");
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="login">
      <h1>MSM console</h1>
      <form onSubmit={submit} className="card" aria-describedby={error ? "login-error" : undefined}>
        <Field id="identity" label="Email or user name">
          <input id="identity" name="username" autoComplete="username" required value={identity} onChange={(e) => setIdentity(e.target.value)} />
        </Field>
        <Field id="password" label="Password">
          <input id="password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        {error && (
          <div id="login-error">
            <Notice kind="error">{error}</Notice>
          </div>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
