// Print the JavaScript the console ships, raw and gzipped (the budget is 300 kB gzipped).
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";

const dir = resolve(import.meta.dirname ?? ".", "../dist/assets");
let raw = 0;
let gz = 0;
for (const name of readdirSync(dir).filter((n) => n.endsWith(".js"))) {
  const data = readFileSync(resolve(dir, name));
  raw += data.length;
  gz += gzipSync(data, { level: 9 }).length;
}
const kb = (n) => (n / 1024).toFixed(1);
console.log(`console JS: ${kb(raw)} kB raw, ${kb(gz)} kB gzipped (budget 300 kB gzipped)`);
