import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { provisioning, type Me } from "../api/client";
import { Field, Notice, Section } from "../components/ui";
import { Table, type Column } from "../components/Table";
import { previewManifest, type ManifestPreview } from "../lib/manifest";
import { describe, formErrors, isProblem } from "../lib/problems";
import { when } from "../lib/format";

interface Listed {
  serial: string;
  imei?: string;
  status?: string;
  device_uuid?: string;
  [k: string]: unknown;
}

const ALLOWLIST: Column<Listed>[] = [
  { title: "Serial", rowHeader: true, cell: (e) => e.serial },
  { title: "IMEI", cell: (e) => e.imei ?? "—" },
  { title: "Status", cell: (e) => e.status ?? "—" },
  { title: "Device", cell: (e) => e.device_uuid ?? "—" },
];

export function Provisioning({ me: _me }: { me: Me }) {
  const [entries, setEntries] = useState<Listed[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [status, setStatus] = useState("");

  const load = useCallback(async () => {
    const q = status ? `&status=${status}` : "";
    const { status: code, body } = await provisioning(`allowlist?limit=100${q}`);
    if (code === 200) {
      setEntries((body as { items: Listed[] }).items);
      setListError(null);
    } else setListError(describe(code, body));
  }, [status]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <>
      <h1>Provisioning</h1>
      <Upload onDone={load} />
      <div className="two">
        <Decommission />
        <Rotate />
      </div>
      <Section title="Allowlist">
        <div className="toolbar">
          <label htmlFor="al-status">Status</label>
          <select id="al-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">all</option>
            <option value="available">available</option>
            <option value="provisioned">provisioned</option>
            <option value="blocked">blocked</option>
          </select>
        </div>
        {listError && <Notice kind="error">{listError}</Notice>}
        <Table label="Allowlist (first 100)" columns={ALLOWLIST} rows={entries} rowKey={(e) => e.serial} />
      </Section>
    </>
  );
}

function Upload({ onDone }: { onDone: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<ManifestPreview | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [rowErrors, setRowErrors] = useState<{ line: number; detail: string }[]>([]);

  async function choose(f: File | null) {
    setFile(f);
    setResult(null);
    setError(null);
    setRowErrors([]);
    setPreview(f ? previewManifest(await f.text(), f.size) : null);
  }

  async function upload(e: FormEvent) {
    e.preventDefault();
    if (!file || preview?.problem) return;
    const { status, body } = await provisioning("allowlist", {
      method: "POST",
      headers: { "Content-Type": "text/csv" },
      body: await file.text(),
    });
    if (status === 200) {
      const r = body as Record<string, number>;
      setResult(`Imported ${r.total} rows: ${r.inserted} new, ${r.updated} updated, ${r.unchanged} unchanged.`);
      onDone();
    } else {
      setError(describe(status, body));
      setRowErrors(isProblem(body) && Array.isArray(body.errors) ? body.errors : []);
    }
  }

  return (
    <Section title="Upload an allowlist (factory manifest CSV)">
      <form onSubmit={upload}>
        <Field id="manifest" label="CSV file (serial,imei[,labels])" hint={preview ? (preview.problem ?? `${preview.rows} rows, columns ${preview.columns.join(", ")}`) : undefined}>
          <input id="manifest" type="file" accept=".csv,text/csv" onChange={(e) => void choose(e.target.files?.[0] ?? null)} />
        </Field>
        {preview?.problem && <Notice kind="error">{preview.problem}</Notice>}
        <button type="submit" disabled={!file || !!preview?.problem}>
          Upload
        </button>
      </form>
      {result && <Notice kind="ok">{result}</Notice>}
      {error && <Notice kind="error">{error}</Notice>}
      {rowErrors.length > 0 && (
        <ul className="errors" aria-label="Rows refused">
          {rowErrors.map((r) => (
            <li key={`${r.line}:${r.detail}`}>
              line {r.line}: {r.detail}
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

type Message = { kind: "ok" | "error"; text: string } | null;

/** A form about one device: its uuid first, then any other fields and the button, and below the
 * form what came of it. onSubmit gets the uuid trimmed. */
function DeviceForm({ title, id, onSubmit, message, children }: { title: string; id: string; onSubmit: (uuid: string) => void; message: Message; children: ReactNode }) {
  const [uuid, setUuid] = useState("");
  return (
    <Section title={title}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit(uuid.trim());
        }}
      >
        <Field id={id} label="Device uuid">
          <input id={id} required value={uuid} onChange={(e) => setUuid(e.target.value)} />
        </Field>
        {children}
      </form>
      {message && <Notice kind={message.kind}>{message.text}</Notice>}
    </Section>
  );
}

function Decommission() {
  const [certStatus, setCertStatus] = useState("REVOKED");
  const [confirm, setConfirm] = useState("");
  const [message, setMessage] = useState<Message>(null);
  const [fields, setFields] = useState<Record<string, string>>({});

  async function submit(target: string) {
    setFields({});
    if (confirm.trim() !== target) {
      setFields({ confirm: "type the device uuid again to confirm" });
      return;
    }
    const { status, body } = await provisioning(`devices/${encodeURIComponent(target)}/decommission`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ certificate_status: certStatus }),
    });
    if (status === 200) {
      setMessage({ kind: "ok", text: `${target} decommissioned; its certificate is ${certStatus}.` });
      setConfirm("");
    } else {
      const errs = formErrors(body, ["certificate_status"]);
      setFields(errs.fields);
      setMessage(errs.form ? { kind: "error", text: errs.form } : null);
    }
  }

  return (
    <DeviceForm title="Decommission a device" id="dc-uuid" onSubmit={(target) => void submit(target)} message={message}>
      <Field id="dc-status" label="Certificate becomes" error={fields.certificate_status}>
        <select id="dc-status" value={certStatus} onChange={(e) => setCertStatus(e.target.value)}>
          <option value="REVOKED">REVOKED</option>
          <option value="INACTIVE">INACTIVE</option>
        </select>
      </Field>
      <Field id="dc-confirm" label="Type the uuid again to confirm" error={fields.confirm}>
        <input id="dc-confirm" required value={confirm} onChange={(e) => setConfirm(e.target.value)} />
      </Field>
      <button type="submit" className="danger">
        Decommission
      </button>
    </DeviceForm>
  );
}

function Rotate() {
  const [message, setMessage] = useState<Message>(null);

  async function submit(target: string) {
    const { status, body } = await provisioning(`devices/${encodeURIComponent(target)}/rotate`, { method: "POST" });
    if (status === 202) {
      const r = (body as { rotation?: { request_id?: string; requested_at?: string } }).rotation;
      setMessage({ kind: "ok", text: `Rotation requested for ${target} (request ${r?.request_id ?? "?"}, ${when(r?.requested_at)}).` });
    } else setMessage({ kind: "error", text: describe(status, body) });
  }

  return (
    <DeviceForm title="Rotate a certificate" id="rot-uuid" onSubmit={(target) => void submit(target)} message={message}>
      <button type="submit">Request rotation</button>
    </DeviceForm>
  );
}
