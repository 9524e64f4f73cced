// Small shared pieces: links that route in the browser, badges, labelled fields, messages.
import type { ReactNode } from "react";
import { navigate } from "../lib/router";
import { tone } from "../lib/commands";

export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  return (
    <a
      href={to}
      className={className}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

export function Online({ online }: { online: boolean }) {
  return <span className={`badge ${online ? "ok" : "bad"}`}>{online ? "online" : "offline"}</span>;
}

export function Flag({ value, label }: { value: boolean | null | undefined; label: string }) {
  const text = value === null || value === undefined ? "unknown" : value ? "up" : "down";
  const cls = value === null || value === undefined ? "muted" : value ? "ok" : "bad";
  return (
    <span className={`badge ${cls}`} title={`${label} ${text}`}>
      {text}
    </span>
  );
}

export function State({ status }: { status: string | null | undefined }) {
  return <span className={`badge ${tone(status)}`}>{status ?? "unknown"}</span>;
}

export function Field({
  id,
  label,
  error,
  hint,
  children,
}: {
  id: string;
  label: string;
  error?: string;
  hint?: string;
  children: ReactNode;
}) {
  return (
    <div className={`field${error ? " has-error" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && !error && (
        <small id={`${id}-hint`} className="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={`${id}-error`} className="error" role="alert">
          {error}
        </small>
      )}
    </div>
  );
}

/** A labelled text input whose error (the API's message for that field) stands beside it and
 * is announced with it; a password is never offered for autofill. */
export function TextField({
  id,
  label,
  error,
  name,
  type = "text",
  inputMode,
  value,
  onChange,
}: {
  id: string;
  label: string;
  error?: string;
  name?: string;
  type?: "text" | "email" | "password";
  inputMode?: "numeric";
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <Field id={id} label={label} error={error}>
      <input
        id={id}
        name={name}
        type={type}
        inputMode={inputMode}
        autoComplete={type === "password" ? "new-password" : "off"}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        value={value}
        onChange={(e) => onChange(e.target.value)}
      />
    </Field>
  );
}

/** One term and its value in a <dl className="facts">. */
export function Fact({ term, title, field, children }: { term: string; title?: string; field?: string; children: ReactNode }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd title={title} data-field={field}>
        {children}
      </dd>
    </div>
  );
}

export function Notice({ kind, children }: { kind: "error" | "info" | "ok"; children: ReactNode }) {
  return (
    <p className={`notice ${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </p>
  );
}

export function Section({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
  const hid = id ?? `h-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return (
    <section className="card" aria-labelledby={hid}>
      <h2 id={hid}>{title}</h2>
      {children}
    </section>
  );
}
