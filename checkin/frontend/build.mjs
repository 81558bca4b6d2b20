// Builds the door page's JavaScript into checkin/static/checkin/ (committed, so that running
// Varco needs no Node). `make frontend` runs `npm ci && npm run build`.
import { build } from "esbuild";

const common = {
  bundle: true,
  minify: true,
  sourcemap: false,
  // BigInt (offline Ed25519 verification) needs ES2020: Safari 14+, Chrome 67+, Firefox 68+.
  target: ["es2020"],
  legalComments: "linked",
  logLevel: "info",
};

await build({
  ...common,
  entryPoints: ["src/door.js"],
  outfile: "../static/checkin/door.js",
  format: "iife",
});
await build({
  ...common,
  entryPoints: ["src/sw.js"],
  outfile: "../static/checkin/sw.js",
  format: "iife",
});
