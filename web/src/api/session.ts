// The signed-in session: a short-lived access token and a rotating refresh token, both in
// sessionStorage (this tab only: a reload keeps the session without a round trip, closing the tab
// ends it; the strict CSP keeps scripts other than ours away from it). Requests get the access
// token; a 401 triggers one quiet refresh (shared by concurrent requests) and a retry.
export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

export interface KeyStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

type Fetch = (request: Request) => Promise<Response>;

const REFRESH_KEY = "msm.refresh";
const ACCESS_KEY = "msm.access";
const RENEW_AT_KEY = "msm.renew_at";

export class Session {
  private access: string | null = null;
  private expiresAt = 0;
  private refreshing: Promise<boolean> | null = null;
  private listeners = new Set<(signedIn: boolean) => void>();

  constructor(
    private readonly base: string,
    private readonly store: KeyStore,
    private readonly send: Fetch = (r) => fetch(r),
    private readonly now: () => number = Date.now,
  ) {
    const access = store.getItem(ACCESS_KEY);
    const renewAt = Number(store.getItem(RENEW_AT_KEY));
    if (access && store.getItem(REFRESH_KEY) && renewAt > now()) {
      this.access = access;
      this.expiresAt = renewAt;
    }
  }

  get signedIn(): boolean {
    return this.access !== null;
  }

  get canResume(): boolean {
    return this.store.getItem(REFRESH_KEY) !== null;
  }

  /** Milliseconds until the access token should be renewed (a fifth of its life early). */
  get renewInMs(): number {
    return Math.max(0, this.expiresAt - this.now());
  }

  onChange(listener: (signedIn: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  accept(tokens: Tokens): void {
    this.access = tokens.access_token;
    this.expiresAt = this.now() + tokens.expires_in * 800;
    this.store.setItem(REFRESH_KEY, tokens.refresh_token);
    this.store.setItem(ACCESS_KEY, tokens.access_token);
    this.store.setItem(RENEW_AT_KEY, String(this.expiresAt));
    this.emit(true);
  }

  /** Renew the tokens with the refresh token; false (and signed out) if that is refused. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const token = this.store.getItem(REFRESH_KEY);
    if (!token) return false;
    let resp: Response;
    try {
      resp = await this.send(this.post("/api/auth/refresh", { refresh_token: token }));
    } catch {
      return false; // network trouble: keep the refresh token, try again later
    }
    if (resp.ok) {
      this.accept((await resp.json()) as Tokens);
      return true;
    }
    if (resp.status === 400 || resp.status === 401) this.forget();
    return false;
  }

  async logout(): Promise<void> {
    const token = this.store.getItem(REFRESH_KEY);
    this.forget();
    if (token) {
      try {
        await this.send(this.post("/api/auth/logout", { refresh_token: token }));
      } catch {
        // signed out locally either way; the refresh token expires on its own
      }
    }
  }

  forget(): void {
    const was = this.signedIn;
    this.access = null;
    this.expiresAt = 0;
    for (const key of [REFRESH_KEY, ACCESS_KEY, RENEW_AT_KEY]) this.store.removeItem(key);
    if (was) this.emit(false);
  }

  /** fetch for the API client: bearer token, one quiet refresh and retry on 401. */
  fetch = async (request: Request): Promise<Response> => {
    if (this.access && this.renewInMs === 0) await this.refresh();
    const retry = request.clone();
    const first = await this.send(this.authorize(request));
    if (first.status !== 401 || !this.canResume) return first;
    if (!(await this.refresh())) return first;
    return this.send(this.authorize(retry));
  };

  private authorize(request: Request): Request {
    if (this.access) request.headers.set("Authorization", `Bearer ${this.access}`);
    return request;
  }

  private post(path: string, body: unknown): Request {
    return new Request(this.base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  private emit(signedIn: boolean): void {
    for (const l of this.listeners) l(signedIn);
  }
}
