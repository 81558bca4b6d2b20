// The browser print station (/print/): paired like the door page (a `#pair=<token>` link, the
// token kept in this browser), it hears of new print jobs through the station stream, claims
// them one at a time, draws each badge's PDF (render.js) and prints it with the browser's
// print dialog — or silently, on a Chromium started with --kiosk-printing — and reports each
// step to the server: `handed` before printing (from then on a lost answer leaves the job in
// doubt, never printed twice by itself), then `printed` or `failed`. Badges the server holds
// in doubt are shown to staff ("did it come out?"). Texts come from the page (Django's
// catalogue); the API contract is docs/badges.md, "Print stations: the API".
import { Api, Offline } from "../../../checkin/frontend/src/api.js";
import { tokenFrom, tokenFromHash } from "../../../checkin/frontend/src/pairing.js";
import { readStream } from "./events.js";
import { renderPdf, useWorker } from "./render.js";

const config = JSON.parse(document.getElementById("station-config").textContent);
const L = config.labels;
const API = config.api; // "/api/v1/badges/station/"
const TOKEN_KEY = "varco-print-station-token";
const REPORTS_KEY = "varco-print-station-reports"; // outcomes not yet told to the server
const NAMES_KEY = "varco-print-station-names"; // job id -> name, for "did X's badge come out?"
const NAMES_KEPT = 100;
const POLL_MS = 15000; // a claim now and then even if a pushed event was missed
const RETRY_MS = [1000, 2000, 5000, 10000];
const KEEP = 30; // rows kept in the printed / failed lists
const REPORT_MS = 10000; // a busy server's answer is awaited this long before "offline"

useWorker(config.worker);

const $ = (id) => document.getElementById(id);
const format = (text, values) => text.replace(/%\((\w+)\)s/g, (all, key) => String(values[key] ?? ""));

let api = null;
let generation = 0; // a new pairing ends the previous one's reconnect loop
let streamAbort = null;
let pumping = null;
let again = false;
let pollTimer = null;
const done = []; // {job, state, detail, at}

function setConnection(state) {
  const node = $("connection");
  node.dataset.state = state;
  node.textContent = L[`connection_${state}`];
}

function show(section) {
  $("pair").hidden = section !== "pair";
  $("station").hidden = section !== "station";
}

function item(text, ...children) {
  const li = document.createElement("li");
  const span = document.createElement("span");
  span.textContent = text;
  li.append(span, ...children);
  return li;
}

function renderLists() {
  const printed = done.filter((row) => row.state === "printed");
  const failed = done.filter((row) => row.state === "failed");
  const time = new Intl.DateTimeFormat(document.documentElement.lang, { timeStyle: "medium" });
  for (const [id, rows] of [["printed", printed], ["failed", failed]]) {
    const list = $(id);
    list.replaceChildren();
    if (!rows.length) list.append(Object.assign(item(L.none), { className: "empty" }));
    for (const row of rows) {
      const what = [row.job.name, row.job.gate, row.job.reprint ? L.reprint : ""].filter(Boolean);
      const li = item(`${time.format(row.at)} · ${what.join(" · ")}`);
      li.dataset.job = row.job.id;
      if (row.detail) {
        const detail = document.createElement("small");
        detail.textContent = row.detail;
        li.append(detail);
      }
      list.append(li);
    }
  }
  $("count").textContent = format(L.count, { printed: printed.length, failed: failed.length });
}

function remember(job, state, detail = "") {
  done.unshift({ job, state, detail, at: new Date() });
  done.splice(KEEP * 2);
  renderLists();
}

// Outcomes the server has not heard yet (the network went while printing) are kept in
// localStorage and sent again on reconnect: a printed badge must not be reported in doubt.
function pendingReports() {
  try {
    return JSON.parse(localStorage.getItem(REPORTS_KEY) || "[]");
  } catch (error) {
    return [];
  }
}

function savePending(reports) {
  localStorage.setItem(REPORTS_KEY, JSON.stringify(reports));
}

async function report(job, outcome, body) {
  const path = `${API}jobs/${job.id}/${outcome}/`;
  try {
    const answer = await api.post(path, { claim: job.claim, ...body }, REPORT_MS);
    return answer.status;
  } catch (error) {
    if (!(error instanceof Offline)) throw error;
    // "handed" unheard: the badge is not printed, the job comes back (a later claim returns
    // it to the queue). An outcome unheard is told again on reconnection.
    if (outcome !== "handed") {
      savePending([...pendingReports(), { path, body: { claim: job.claim, ...body } }]);
    }
    return 0;
  }
}

async function flushReports() {
  const left = [];
  for (const pending of pendingReports()) {
    try {
      await api.post(pending.path, pending.body);
    } catch (error) {
      left.push(pending);
    }
  }
  savePending(left);
}

async function fetchPdf(job) {
  const url = `${job.pdf}?claim=${encodeURIComponent(job.claim)}`;
  const response = await fetch(url, {
    headers: { Authorization: `Token ${api.token}` }, cache: "no-store",
  });
  if (!response.ok) throw new Error(`${L.pdf_refused} (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

// The print area holds the badge being printed; @page takes the PDF page's size so a label
// printer gets its label and a sheet printer its sheet, without margins.
let pageRule = null;

function stage(rendered) {
  const sheet = $("print-style").sheet;
  if (pageRule !== null) sheet.deleteRule(pageRule);
  const { width, height } = rendered.size;
  pageRule = sheet.insertRule(
    `@page { size: ${width.toFixed(2)}mm ${height.toFixed(2)}mm; margin: 0; }`, sheet.cssRules.length);
  const area = $("print-area");
  area.replaceChildren(...rendered.canvases);
  for (const canvas of rendered.canvases) {
    canvas.style.width = `${width}mm`; // CSSOM, allowed by the CSP (no style attribute text)
    canvas.style.height = `${height}mm`;
  }
}

// The in-doubt list names no one (it is the server's, without claims): the page remembers
// whose badge each job it handed was, across a reload.
function rememberName(job) {
  let names = {};
  try {
    names = JSON.parse(localStorage.getItem(NAMES_KEY) || "{}");
  } catch (error) {
    names = {};
  }
  names[job.id] = job.name;
  const ids = Object.keys(names).map(Number).sort((a, b) => b - a).slice(0, NAMES_KEPT);
  localStorage.setItem(NAMES_KEY, JSON.stringify(Object.fromEntries(ids.map((id) => [id, names[id]]))));
}

function nameOf(id) {
  try {
    return JSON.parse(localStorage.getItem(NAMES_KEY) || "{}")[id] || null;
  } catch (error) {
    return null;
  }
}

async function printJob(job) {
  rememberName(job);
  $("now").textContent = format(L.printing, { name: job.name });
  let rendered;
  try {
    rendered = await renderPdf(await fetchPdf(job));
  } catch (error) {
    // Nothing went to the printer: the server may try again.
    await report(job, "failed", { error: String(error.message || error).slice(0, 1000), retry: true });
    remember(job, "failed", String(error.message || error));
    return;
  }
  stage(rendered);
  // Committed before the bytes go to the printer: if the page dies now, the server holds the
  // job in doubt instead of printing it a second time.
  const handed = await report(job, "handed", {});
  if (handed !== 200) {
    remember(job, "failed", L.not_handed);
    return;
  }
  try {
    window.print(); // returns when the dialog closes (at once with --kiosk-printing)
  } catch (error) {
    await report(job, "failed", { error: String(error).slice(0, 1000), retry: false });
    remember(job, "failed", String(error));
    return;
  }
  await report(job, "printed", { printer_job: null });
  remember(job, "printed");
}

/** Claim and print until the server has nothing for this station; one run at a time. */
function pump() {
  if (pumping) {
    again = true;
    return pumping;
  }
  pumping = (async () => {
    try {
      do {
        again = false;
        for (;;) {
          const answer = await api.post(`${API}claim/`, { wait: 0 }, REPORT_MS);
          if (answer.status === 204) break;
          if (answer.status === 401 || answer.status === 403) return unpaired();
          if (answer.status !== 200 || !answer.data || !answer.data.job) break;
          $("received").textContent = String(Number($("received").textContent) + 1);
          await printJob(answer.data.job);
        }
        await refreshInDoubt();
      } while (again);
      $("now").textContent = L.idle;
    } catch (error) {
      if (!(error instanceof Offline)) throw error;
      setConnection("offline");
    } finally {
      pumping = null;
    }
  })();
  return pumping;
}

async function refreshInDoubt() {
  const answer = await api.get(`${API}in-doubt/`);
  if (answer.status !== 200) return;
  const jobs = Array.isArray(answer.data) ? answer.data : answer.data.jobs || answer.data.results || [];
  const list = $("in-doubt");
  list.replaceChildren();
  $("in-doubt-section").hidden = !jobs.length;
  for (const job of jobs) {
    const yes = button(L.yes_printed, () => resolve(job, true));
    const no = button(L.no_print_again, () => resolve(job, false));
    const li = item(format(L.question, { name: nameOf(job.id) || `#${job.id}` }), yes, no);
    li.dataset.job = job.id;
    list.append(li);
  }
}

function button(text, onClick) {
  const node = document.createElement("button");
  node.type = "button";
  node.textContent = text;
  node.addEventListener("click", onClick);
  return node;
}

async function resolve(job, printed) {
  try {
    await api.post(`${API}jobs/${job.id}/resolve/`, { printed });
  } catch (error) {
    setConnection("offline");
    return;
  }
  await refreshInDoubt();
  if (!printed) pump();
}

async function connect(mine) {
  let attempt = 0;
  while (api && mine === generation) {
    streamAbort = new AbortController();
    try {
      const status = await readStream(`${API}stream/`, api.token, {
        signal: streamAbort.signal,
        onOpen() {
          attempt = 0;
          setConnection("online");
          flushReports().then(pump);
        },
        onEvent(message) {
          if (message.event === "job") pump();
        },
      });
      if (status === 401 || status === 403) return unpaired();
      if (status !== 200) setConnection("offline");
    } catch (error) {
      if (streamAbort.signal.aborted) return;
      setConnection("offline");
    }
    await new Promise((wake) => setTimeout(wake, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]));
    attempt += 1;
  }
}

function unpaired(message = L.revoked) {
  api = null;
  generation += 1;
  if (streamAbort) streamAbort.abort();
  clearInterval(pollTimer);
  localStorage.removeItem(TOKEN_KEY);
  show("pair");
  $("pair-error").textContent = message;
}

async function start(token) {
  generation += 1;
  const mine = generation;
  api = new Api(token);
  let answer;
  try {
    answer = await api.get(API);
  } catch (error) {
    // Offline at start with a known token: keep it and try the stream (which retries).
    answer = null;
    setConnection("offline");
  }
  if (answer && answer.status !== 200) {
    return unpaired(answer.status === 401 || answer.status === 403 ? L.wrong_token : L.revoked);
  }
  localStorage.setItem(TOKEN_KEY, token);
  if (answer) {
    const station = answer.data;
    $("station-name").textContent = station.name;
    $("event-name").textContent = station.event.name;
    $("gates").textContent = station.gates.length ? station.gates.join(", ") : L.no_gate;
    $("output").textContent = L[`output_${station.output.kind}`] || station.output.kind;
  }
  show("station");
  renderLists();
  clearInterval(pollTimer);
  pollTimer = setInterval(() => api && pump(), POLL_MS);
  connect(mine);
}

$("pair-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = tokenFrom($("pair-token").value);
  if (!token) return;
  $("pair-error").textContent = "";
  $("pair-token").value = "";
  start(token);
});

$("unpair").addEventListener("click", () => {
  if (window.confirm(L.unpair_confirm)) unpaired("");
});

/** A pairing link's token (then taken out of the address bar), or null. */
function tokenFromLink() {
  const token = tokenFromHash(location.hash);
  if (token) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

// A pairing link opened while the page is open (same document: no reload) pairs it too.
window.addEventListener("hashchange", () => {
  const token = tokenFromLink();
  if (token) start(token);
});

const saved = tokenFromLink() || localStorage.getItem(TOKEN_KEY);
setConnection("offline");
if (saved) start(saved);
else show("pair");
window.addEventListener("online", () => api && pump());
