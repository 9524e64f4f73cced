// Command states and following one command until it is finished.
export const FINAL = new Set([
  "succeeded",
  "failed",
  "rejected",
  "timed_out",
  "expired",
  "cancelled",
  "superseded",
]);

export const isFinal = (status: string | null | undefined): boolean => !!status && FINAL.has(status);

export const cancellable = (status: string | null | undefined): boolean => status === "queued";

export type Tone = "ok" | "bad" | "busy" | "muted";

export function tone(status: string | null | undefined): Tone {
  if (status === "succeeded") return "ok";
  if (status === "queued" || status === "sent") return "busy";
  if (status === "cancelled" || status === "superseded") return "muted";
  return status ? "bad" : "muted";
}

export interface Followed {
  status: string | null;
}

export interface FollowOptions {
  intervalMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  signal?: { aborted: boolean };
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll `get` until the command is final (or time runs out / the caller aborts); each answer
 * goes to `onUpdate`. Returns the last answer. */
export async function follow<T extends Followed>(
  get: () => Promise<T>,
  onUpdate: (c: T) => void,
  { intervalMs = 1000, timeoutMs = 120_000, sleep = pause, now = Date.now, signal }: FollowOptions = {},
): Promise<T> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const current = await get();
    if (signal?.aborted) return current;
    onUpdate(current);
    if (isFinal(current.status) || now() >= deadline) return current;
    await sleep(intervalMs);
    if (signal?.aborted) return current;
  }
}
