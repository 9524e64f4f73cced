// A first look at a factory manifest (CSV) before it is uploaded; the provisioner decides.
export interface ManifestPreview {
  rows: number;
  columns: string[];
  problem: string | null;
}

export const MAX_MANIFEST_BYTES = 5 * 1024 * 1024;

export function previewManifest(text: string, bytes = text.length): ManifestPreview {
  if (bytes > MAX_MANIFEST_BYTES) return { rows: 0, columns: [], problem: "the file is larger than 5 MB" };
  const lines = text.replace(/^\ufeff/, "").split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) return { rows: 0, columns: [], problem: "the file is empty" };
  const first = lines[0].split(",").map((c) => c.trim().toLowerCase());
  const named = first[0] === "serial";
  if (named && !first.includes("imei")) {
    return { rows: 0, columns: first, problem: "the header needs serial and imei" };
  }
  const columns = named ? first : ["serial", "imei"];
  return { rows: named ? lines.length - 1 : lines.length, columns, problem: null };
}
