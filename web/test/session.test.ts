import { describe, expect, it } from "vitest";
import { Session, type KeyStore } from "../src/api/session";

class MemoryStore implements KeyStore {
  data = new Map<string, string>();
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, v);
  }
  removeItem(k: string) {
    this.data.delete(k);
  }
}

/** A tiny API: /api/data wants the current access token; refresh rotates tokens once. */
class FakeApi {
  access = "a1";
  refresh = "r1";
  refreshCalls = 0;
  seen: string[] = [];
  refuseRefresh = false;

  send = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (url.pathname === "/api/auth/refresh") {
      this.refreshCalls += 1;
      const body = (await req.json()) as { refresh_token: string };
      if (this.refuseRefresh || body.refresh_token !== this.refresh) return new Response("{}", { status: 401 });
      this.access = `a${this.refreshCalls + 1}`;
      this.refresh = `r${this.refreshCalls + 1}`;
      return Response.json({ access_token: this.access, refresh_token: this.refresh, expires_in: 900 });
    }
    if (url.pathname === "/api/auth/logout") return new Response(null, { status: 204 });
    const auth = req.headers.get("Authorization") ?? "";
    this.seen.push(auth);
    if (auth !== `Bearer ${this.access}`) return new Response("{}", { status: 401 });
    return Response.json({ ok: true, body: req.method === "POST" ? await req.text() : null });
  };
}

const signedIn = (api: FakeApi, store = new MemoryStore(), now = () => 0) => {
  const s = new Session("http://x", store, api.send, now);
  s.accept({ access_token: api.access, refresh_token: api.refresh, expires_in: 900 });
  return { s, store };
};

describe("Session", () => {
  it("sends the access token with every request", async () => {
    const api = new FakeApi();
    const { s } = signedIn(api);
    const resp = await s.fetch(new Request("http://x/api/data"));
    expect(resp.status).toBe(200);
    expect(api.seen).toEqual(["Bearer a1"]);
  });

  it("refreshes quietly once on 401 and retries the request with its body", async () => {
    const api = new FakeApi();
    const { s, store } = signedIn(api);
    api.access = "server-rotated"; // the access token the console holds is no longer good
    api.refresh = "r1";
    const resp = await s.fetch(new Request("http://x/api/data", { method: "POST", body: '{"x":1}' }));
    expect(resp.status).toBe(200);
    expect(await resp.json()).toEqual({ ok: true, body: '{"x":1}' });
    expect(api.refreshCalls).toBe(1);
    expect(store.getItem("msm.refresh")).toBe("r2");
  });

  it("shares one refresh between concurrent requests", async () => {
    const api = new FakeApi();
    const { s } = signedIn(api);
    api.access = "expired";
    const answers = await Promise.all([1, 2, 3].map(() => s.fetch(new Request("http://x/api/data"))));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(api.refreshCalls).toBe(1);
  });

  it("signs out when the refresh token is refused", async () => {
    const api = new FakeApi();
    const { s, store } = signedIn(api);
    const changes: boolean[] = [];
    s.onChange((v) => changes.push(v));
    api.access = "expired";
    api.refuseRefresh = true;
    const resp = await s.fetch(new Request("http://x/api/data"));
    expect(resp.status).toBe(401);
    expect(s.signedIn).toBe(false);
    expect(store.getItem("msm.refresh")).toBeNull();
    expect(changes).toEqual([false]);
  });

  it("renews before the access token expires", async () => {
    const api = new FakeApi();
    let now = 0;
    const { s } = signedIn(api, new MemoryStore(), () => now);
    expect(s.renewInMs).toBe(720_000); // four fifths of 900 s
    now = 800_000;
    await s.fetch(new Request("http://x/api/data"));
    expect(api.refreshCalls).toBe(1);
    expect(api.seen).toEqual(["Bearer a2"]);
  });

  it("a reload keeps a live access token without a round trip, but not an expired one", async () => {
    const api = new FakeApi();
    let now = 0;
    const { store } = signedIn(api, new MemoryStore(), () => now);
    const reloaded = new Session("http://x", store, api.send, () => now);
    expect(reloaded.signedIn).toBe(true);
    await reloaded.fetch(new Request("http://x/api/data"));
    expect(api.refreshCalls).toBe(0);
    now = 900_000;
    const later = new Session("http://x", store, api.send, () => now);
    expect([later.signedIn, later.canResume]).toEqual([false, true]);
  });

  it("logs out: forgets the tokens and revokes the refresh token", async () => {
    const api = new FakeApi();
    const { s, store } = signedIn(api);
    await s.logout();
    expect(s.signedIn).toBe(false);
    expect([...store.data.keys()]).toEqual([]);
    const resp = await s.fetch(new Request("http://x/api/data"));
    expect(resp.status).toBe(401);
    expect(api.seen.at(-1)).toBe("");
  });
});
