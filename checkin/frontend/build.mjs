// The one build of Varco's JavaScript: the door page (door.js, its service worker sw.js) and
// the live attendance dashboard (attendance/dashboard.js), from src/ into checkin/static/checkin/,
// and the badges' print station (badges/frontend/src/station.js, with pdf.js's worker) into
// badges/static/badges/ (committed, so that running Varco needs no Node). `make frontend` runs
// `npm ci && npm run build`; `node build.mjs DIR` writes the same files under DIR/checkin and
// DIR/badges instead, which is how tests/system/test_frontend_bundles.py proves the committed
// files are what these sources build.
//
// The output must depend on the sources only (that test compares bytes): no timestamps, no
// absolute paths, no source maps, catalogue keys sorted.
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { build } from "esbuild";
import { po } from "gettext-parser";

const here = path.dirname(fileURLToPath(import.meta.url));
const target = process.argv[2] ? path.resolve(process.argv[2]) : null;
const outdir = target ? path.join(target, "checkin") : path.resolve(here, "../static/checkin");
const badgesOutdir = target ? path.join(target, "badges")
  : path.resolve(here, "../../badges/static/badges");

// The door page's translations come from the check-in app's gettext catalogue, the same .po
// a translator edits for the app's Python and template strings (msgctxt "door"; `make
// messages` extracts them from src/i18n.js). English is the source language.
const LANGUAGES = ["it"];
const CONTEXT = "door";

function catalogue(language) {
  const file = path.join(here, `../locale/${language}/LC_MESSAGES/django.po`);
  const entries = po.parse(readFileSync(file)).translations[CONTEXT] || {};
  const messages = {};
  for (const msgid of Object.keys(entries).sort()) {
    const entry = entries[msgid];
    const fuzzy = /\bfuzzy\b/.test((entry.comments && entry.comments.flag) || "");
    if (msgid && entry.msgstr[0] && !fuzzy) messages[msgid] = entry.msgstr[0];
  }
  return messages;
}

// `import CATALOGUES from "varco:catalogues"` in src/i18n.js: {language: {msgid: msgstr}}.
const catalogues = {
  name: "varco-catalogues",
  setup(builder) {
    builder.onResolve({ filter: /^varco:catalogues$/ }, () => ({
      path: "catalogues", namespace: "varco",
      watchFiles: LANGUAGES.map((l) => path.join(here, `../locale/${l}/LC_MESSAGES/django.po`)),
    }));
    builder.onLoad({ filter: /.*/, namespace: "varco" }, () => ({
      contents: JSON.stringify(Object.fromEntries(LANGUAGES.map((l) => [l, catalogue(l)]))),
      loader: "json",
    }));
  },
};

// QR codes only: @zxing/browser's readers import "@zxing/library", whose index brings every
// barcode format along; src/zxing-qr.js re-exports just the QR reader (see the reasons there).
const qrOnly = {
  name: "zxing-qr-only",
  setup(builder) {
    builder.onResolve({ filter: /^@zxing\/library$/ }, () => ({
      path: path.join(here, "src/zxing-qr.js"),
    }));
  },
};

await build({
  absWorkingDir: here,
  entryPoints: {
    door: "src/door.js",
    sw: "src/sw.js",
    "attendance/dashboard": "src/attendance/dashboard.js",
  },
  outdir,
  bundle: true,
  minify: true,
  sourcemap: false,
  // BigInt (offline Ed25519 verification) needs ES2020: Safari 14+, Chrome 67+, Firefox 68+.
  target: ["es2020"],
  format: "iife",
  legalComments: "linked",
  plugins: [catalogues, qrOnly],
  logLevel: "info",
});

// The print station page (badges/frontend/src), built with this project's npm packages (its
// imports of pdfjs-dist resolve here) and the door page's own pairing and API modules. pdf.js
// needs a recent engine (private class members, Promise.withResolvers): a station runs a
// current Chromium, so no down-levelling to ES2020 as for the door page's phones.
await build({
  absWorkingDir: here,
  entryPoints: { station: "../../badges/frontend/src/station.js" },
  nodePaths: [path.join(here, "node_modules")],
  outdir: badgesOutdir,
  bundle: true,
  minify: true,
  sourcemap: false,
  target: ["es2022"],
  format: "iife",
  legalComments: "linked",
  logLevel: "info",
});
// pdf.js parses PDFs in its own worker, loaded from this file (same origin: the CSP's 'self').
// Copied as it is published (already minified); ".js" so every server sends a JavaScript type.
mkdirSync(badgesOutdir, { recursive: true });
copyFileSync(path.join(here, "node_modules/pdfjs-dist/build/pdf.worker.min.mjs"),
  path.join(badgesOutdir, "pdf.worker.js"));
