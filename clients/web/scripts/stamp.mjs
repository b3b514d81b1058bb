// Records which sources the committed build was made from (a digest of every file that goes
// into it), so the Python suite can tell when the terminal in the package is stale.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(import.meta.url), "../../../..");
export const INPUTS = ["clients/sdk/src", "clients/web/src", "clients/web/index.html",
                       "clients/web/vite.config.ts", "package-lock.json"];

function files(path) {
  const full = join(root, path);
  if (statSync(full).isFile()) return [path];
  return readdirSync(full).sort().flatMap((name) => files(join(path, name)));
}

const hash = createHash("sha256");
for (const file of INPUTS.flatMap(files)) {
  hash.update(relative(root, join(root, file)).split("\\").join("/"));
  hash.update("\0");
  hash.update(readFileSync(join(root, file)));
  hash.update("\0");
}
const out = join(root, "gridworks/terminal/build.json");
writeFileSync(out, JSON.stringify({ sources: hash.digest("hex"), inputs: INPUTS }, null, 2) + "\n");
console.log(`stamped ${relative(root, out)}`);
