import { describe, expect, it } from "vitest";
import { follow, isFinal, cancellable, tone } from "../src/lib/commands";
import { Pager, countAll, fleetCounts, shown } from "../src/lib/fleet";
import { ago, num, when } from "../src/lib/format";
import { commandBody, initialValues, shownValue, FORMS } from "../src/lib/forms";
import { previewManifest } from "../src/lib/manifest";
import { can } from "../src/lib/perms";
import { describe as describeProblem, formErrors } from "../src/lib/problems";
import { href, match } from "../src/lib/router";
import { RANGES, align, timeWindow, type Bucket } from "../src/lib/series";

describe("router", () => {
  it("matches every page and builds its link back", () => {
    expect(match("/")).toEqual({ name: "fleet" });
    expect(match("/devices/SIM-000001/")).toEqual({ name: "device", uuid: "SIM-000001" });
    expect(match("/devices/a%2Fb")).toEqual({ name: "device", uuid: "a/b" });
    expect(match("/audit")).toEqual({ name: "audit" });
    expect(match("/nope")).toEqual({ name: "notfound", path: "/nope" });
    expect(href({ name: "device", uuid: "a/b" })).toBe("/devices/a%2Fb");
    expect(href({ name: "users" })).toBe("/users");
  });
});

describe("problems", () => {
  it("puts a named field's message beside that field", () => {
    const p = { type: "about:blank", title: "Invalid request", status: 400, detail: "server_1: must be a host name", field: "server_1" };
    expect(formErrors(p, ["server_1", "server_2"])).toEqual({ form: null, fields: { server_1: "must be a host name" } });
  });
  it("keeps a message for a field the form does not have at form level", () => {
    const p = { title: "Invalid request", status: 400, detail: "expires_in_s: too large", field: "expires_in_s" };
    expect(formErrors(p, ["server_1"])).toEqual({ form: "expires_in_s: too large", fields: {} });
  });
  it("says when to try again after a 429", () => {
    expect(describeProblem(429, {}, "7")).toBe("Too many attempts. Try again in 7 s.");
    expect(describeProblem(403, { detail: "this needs devices:command" })).toBe("this needs devices:command");
  });
});

describe("commands", () => {
  it("knows the final states", () => {
    expect(["queued", "sent"].map(isFinal)).toEqual([false, false]);
    expect(["succeeded", "timed_out", "superseded"].map(isFinal)).toEqual([true, true, true]);
    expect(cancellable("queued") && !cancellable("sent")).toBe(true);
    expect([tone("succeeded"), tone("sent"), tone("failed"), tone("cancelled")]).toEqual(["ok", "busy", "bad", "muted"]);
  });

  it("follows a command until it is final, reporting each state", async () => {
    const answers = ["queued", "sent", "sent", "succeeded"].map((status) => ({ status }));
    const seen: string[] = [];
    const waits: number[] = [];
    const last = await follow(
      async () => answers.shift()!,
      (c) => seen.push(c.status!),
      { intervalMs: 500, sleep: async (ms) => void waits.push(ms) },
    );
    expect(last.status).toBe("succeeded");
    expect(seen).toEqual(["queued", "sent", "sent", "succeeded"]);
    expect(waits).toEqual([500, 500, 500]);
  });

  it("stops following when time runs out or the page goes away", async () => {
    let clock = 0;
    const last = await follow(async () => ({ status: "sent" }), () => undefined, {
      timeoutMs: 3000,
      sleep: async (ms) => void (clock += ms),
      now: () => clock,
    });
    expect(last.status).toBe("sent");
    expect(clock).toBe(3000);
    const signal = { aborted: false };
    const seen: string[] = [];
    await follow(async () => ({ status: "queued" }), (c) => seen.push(c.status), {
      signal,
      sleep: async () => void (signal.aborted = true),
    });
    expect(seen).toEqual(["queued"]);
  });
});

describe("fleet", () => {
  it("counts across pages and says when the cap was reached", async () => {
    const pages: Record<string, { items: number[]; next_cursor: string | null }> = {
      start: { items: [1, 2, 3], next_cursor: "b" },
      b: { items: [4, 5], next_cursor: null },
    };
    const total = await countAll(async (c) => pages[c ?? "start"]);
    expect(total).toEqual({ count: 5, complete: true });
    const capped = await countAll(async () => ({ items: [1], next_cursor: "again" }), 3);
    expect(capped).toEqual({ count: 3, complete: false });
    const counts = fleetCounts(total, { count: 2, complete: true });
    expect(shown(counts.offline)).toBe("3");
    expect(shown(capped)).toBe("3+");
  });

  it("pages back and forth by cursor", () => {
    const p = new Pager();
    expect([p.cursor, p.page, p.hasPrevious]).toEqual([null, 1, false]);
    p.next("c2");
    p.next("c3");
    expect([p.cursor, p.page]).toEqual(["c3", 3]);
    p.previous();
    expect(p.cursor).toBe("c2");
    p.reset();
    expect(p.cursor).toBeNull();
  });
});

describe("format", () => {
  it("shows times and numbers", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(ago("2026-01-01T11:59:30Z", now)).toBe("30 s ago");
    expect(ago("2026-01-01T09:00:00Z", now)).toBe("3 h ago");
    expect(ago(null, now)).toBe("never");
    expect(when("2026-01-01T12:00:00.123Z")).toBe("2026-01-01 12:00:00 UTC");
    expect(num(230.456, 1, "V")).toBe("230.5 V");
    expect(num(null)).toBe("—");
  });
});

describe("command forms", () => {
  it("sends numbers as numbers and leaves blanks out", () => {
    const body = commandBody("mqtt", { broker_ip: " 10.0.0.1 ", broker_port: "8883", broker_user: "m", broker_password: "s3cret", data_interval: "abc" });
    expect(body).toEqual({ broker_ip: "10.0.0.1", broker_port: 8883, broker_user: "m", broker_password: "s3cret", data_interval: "abc" });
    expect(commandBody("ntp", { server_1: "pool.ntp.org", server_2: "", server_3: " " })).toEqual({ server_1: "pool.ntp.org" });
  });
  it("never shows or pre-fills a secret", () => {
    const item = { broker_ip: "h", broker_password_set: true, broker_password: "leak" };
    const secret = FORMS.mqtt.find((f) => f.name === "broker_password")!;
    expect(shownValue(item, secret)).toBe("set (hidden)");
    expect(initialValues("mqtt", item).broker_password).toBe("");
    expect(initialValues("mqtt", item).broker_ip).toBe("h");
  });
  it("labels each field and marks what is required", () => {
    const shown = (kind: keyof typeof FORMS) => FORMS[kind].map((f) => `${f.label}${f.required ? " *" : ""}${f.kind === "text" ? "" : ` (${f.kind})`}`);
    expect(shown("ntp")).toEqual(["NTP server 1 *", "NTP server 2", "NTP server 3"]);
    expect(shown("sftp")).toEqual(["SFTP host *", "SFTP port * (number)", "SFTP user *", "SFTP password * (secret)", "Data interval (s) * (number)"]);
    expect(FORMS.sftp.map((f) => f.name)).toEqual(["server_ip", "server_port", "username", "password", "data_interval"]);
  });
});

describe("manifest preview", () => {
  it("counts rows and checks the header", () => {
    expect(previewManifest("serial,imei,labels\nA,1,x\nB,2,y\n")).toEqual({ rows: 2, columns: ["serial", "imei", "labels"], problem: null });
    expect(previewManifest("A,1\nB,2")).toMatchObject({ rows: 2, problem: null });
    expect(previewManifest("serial,labels\nA,x").problem).toBe("the header needs serial and imei");
    expect(previewManifest("  \n").problem).toBe("the file is empty");
  });
});

describe("permissions", () => {
  it("grants only what the user holds", () => {
    expect(can({ permissions: ["devices:read"] }, "devices:command")).toBe(false);
    expect(can({ permissions: ["devices:command"] }, "devices:command")).toBe(true);
    expect(can(null, "devices:read")).toBe(false);
  });
});

describe("telemetry series", () => {
  const b = (start: string, channel: number, phase: string, v: number | null): Bucket => ({
    start,
    channel_id: channel,
    phase,
    line_voltage: { avg: v, min: v, max: v },
  });

  it("aligns buckets of every channel and phase on one time axis", () => {
    const rows = [b("2026-01-01T00:00:00Z", 1, "A", 230), b("2026-01-01T00:00:00Z", 1, "B", 231), b("2026-01-01T00:01:00Z", 1, "A", 229), b("2026-01-01T00:01:00Z", 10, "A", null)];
    const out = align(rows, "line_voltage");
    expect(out.x).toEqual([1767225600, 1767225660]);
    expect(out.series.map((s) => s.label)).toEqual(["ch 1 A", "ch 1 B", "ch 10 A"]);
    expect(out.series[0].values).toEqual([230, 229]);
    expect(out.series[1].values).toEqual([231, null]);
    expect(out.points).toBe(3);
  });

  it("keeps each range within one page of buckets per series", () => {
    const seconds = { "1m": 60, "5m": 300, "1h": 3600, "1d": 86_400 };
    for (const r of RANGES) expect(r.seconds / seconds[r.interval]).toBeLessThanOrEqual(500);
    const w = timeWindow(RANGES[0], Date.parse("2026-01-01T00:15:00Z"));
    expect(w).toEqual({ from: "2026-01-01T00:00:00.000Z", to: "2026-01-01T00:15:00.000Z" });
  });
});
