// application/problem+json answers: the message for the form, and the one for the named field.
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  field?: string | null;
  errors?: { line: number; detail: string }[];
}

export interface FormErrors {
  form: string | null;
  fields: Record<string, string>;
}

export function isProblem(body: unknown): body is Problem {
  return typeof body === "object" && body !== null && ("detail" in body || "title" in body);
}

/** Split a problem into a field's message (shown beside it) or a form-level one. */
export function formErrors(body: unknown, known: readonly string[] = []): FormErrors {
  if (!isProblem(body)) return { form: "the server answered unexpectedly", fields: {} };
  const detail = body.detail || body.title || "the request failed";
  const field = body.field ? body.field.replace(/^body\./, "") : null;
  if (field && (known.length === 0 || known.includes(field))) {
    const prefix = `${field}: `;
    return { form: null, fields: { [field]: detail.startsWith(prefix) ? detail.slice(prefix.length) : detail } };
  }
  return { form: detail, fields: {} };
}

export function describe(status: number, body: unknown, retryAfter?: string | null): string {
  if (status === 429) {
    const wait = retryAfter && /^\d+$/.test(retryAfter) ? ` Try again in ${retryAfter} s.` : " Try again later.";
    return `Too many attempts.${wait}`;
  }
  if (isProblem(body)) return body.detail || body.title || `HTTP ${status}`;
  return `HTTP ${status}`;
}
