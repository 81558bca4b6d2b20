// The door page (/scan/): pairing, camera and keyboard-wedge scanning, full-screen answers,
// manual search, undo, and automatic offline mode with an IndexedDB queue.
//
// Online: every scan goes to POST /api/v1/checkin/scan/ (the server decides). If the request
// fails or times out, the device switches to offline by itself: it decides locally from its
// snapshot (signature, ticket versions, presence) and queues the scan with the same nonce, so a
// request that did reach the server is never counted twice. While online it polls the changes
// feed, so its offline copy knows other gates' scans within seconds.
//
// A scanner flooding unreadable codes is told so online (the server's 429) and offline alike:
// the page keeps the device's allowance of invalid codes itself (flood.js, numbers from the
// snapshot), and says so when an upload's invalid codes went past the server's allowance
// (`invalid_not_logged`).
//
// Hardware scanners type into whatever has focus: listenForScanners() (wedge.js) routes their
// keystrokes to the scan wherever focus is, so tapping a button never loses the next scan.
import { Api, newNonce, Offline } from "./api.js";
import { CameraToggle, cameraNote, filmPairingLink } from "./camera.js";
import { CODE_LENGTH, parseCode } from "./codes.js";
import { beep, unlockAudio } from "./feedback.js";
import { InvalidBudget } from "./flood.js";
import { formatTime, getLanguage, setLanguage, t } from "./i18n.js";
import { isPairingLink, tokenFrom, tokenFromHash } from "./pairing.js";
import { Recent } from "./recent.js";
import { renderResults, searchOffline, searchOnline } from "./search.js";
import { Store } from "./store.js";
import { listenForScanners } from "./wedge.js";

const API = "/api/v1/checkin";
const SCAN_TIMEOUT_MS = 2500;
const CHANGES_EVERY_MS = 2000;
const PROBE_EVERY_MS = 3000;
const SNAPSHOT_EVERY_MS = 10 * 60 * 1000;
const SAME_CODE_IGNORED_MS = 2500; // a camera reads the same QR many times a second
const RESULT_MS = { ok: 900, warn: 1600, bad: 1600 };

const $ = (id) => document.getElementById(id);
const store = new Store();
const invalidBudget = new InvalidBudget();
const recent = new Recent(store, $("recent-list"), (item) => undo(item));
const camera = new CameraToggle({
  video: $("camera"), button: $("camera-toggle"), note: $("camera-note"),
  onCode: (code) => handleCode(code, true),
});
const state = {
  api: null,
  online: navigator.onLine,
  syncing: false,
  lastSync: null,
  lastChanges: 0,
  lastProbe: 0,
  lastSnapshot: 0,
  listId: null,
  direction: "entry",
  lastCode: null,
  lastCodeAt: 0,
  resultTimer: null,
  notice: null, // a message from the background (an upload) waiting for the answer on screen
  loop: null,
};

// --- start -------------------------------------------------------------------------------------

async function main() {
  setLanguage(localStorage.getItem("varco-lang") || document.documentElement.lang || "it");
  bindUi();
  await store.open();
  invalidBudget.configure(store.invalidLimit);
  registerServiceWorker();
  if (await pairFromHash()) return;
  const token = await store.getToken();
  if (!token) {
    showPairing();
    return;
  }
  state.api = new Api(token);
  await recent.load(store.device ? store.device.id : null);
  showDoor();
  if (!store.ready) await loadSnapshot();
  startLoop();
}

function startLoop() {
  if (!state.loop) state.loop = setInterval(tick, 500);
  tick();
}

function registerServiceWorker() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/scan/sw.js", { scope: "/scan/" }).catch(() => {});
  }
}

// --- pairing -----------------------------------------------------------------------------------

/** A `#pair=` link opened in this tab, at load or later (hashchange): pair with its token. */
async function pairFromHash() {
  const token = tokenFromHash(location.hash);
  if (!token) return false;
  history.replaceState(null, "", location.pathname + location.search);
  await pair(token);
  return true;
}

async function pair(text) {
  // A pasted or scanned pairing link works as well as the bare token.
  const token = tokenFrom(text);
  if (!token) {
    showPairing(t("pair_failed"));
    return;
  }
  const api = new Api(token);
  let answer;
  try {
    answer = await api.get(`${API}/device/`, 8000);
  } catch (error) {
    showPairing(t("offline"));
    return;
  }
  if (answer.status !== 200) {
    showPairing(t("pair_failed"));
    return;
  }
  camera.stop();
  await store.forget();
  invalidBudget.configure(null); // another device: its own allowance, from its snapshot
  await store.setToken(token);
  state.api = api;
  const device = answer.data && answer.data.device ? answer.data.device.id : null;
  await recent.paired(device);
  showDoor();
  await loadSnapshot();
  startLoop();
}

async function unpair(message) {
  camera.stop();
  await store.setToken(null);
  await store.forget();
  state.api = null;
  showPairing(message);
}

function showPairing(error = "") {
  $("door").hidden = true;
  $("pair").hidden = false;
  $("pair-error").textContent = error;
  $("pair-token").focus();
}

function showDoor() {
  $("pair").hidden = true;
  $("door").hidden = false;
  renderHeader();
  renderSync();
  focusWedge();
}

// --- snapshot, changes, sync: the background loop ------------------------------------------------

async function loadSnapshot() {
  try {
    const answer = await state.api.get(`${API}/snapshot/`, 30000);
    if (answer.status === 401) return unpair(t("pair_failed"));
    if (answer.status === 200) {
      await store.saveSnapshot(answer.data);
      invalidBudget.configure(store.invalidLimit);
      state.lastSnapshot = Date.now();
      setOnline(true);
      renderHeader();
    }
  } catch (error) {
    setOnline(false);
  }
}

async function tick() {
  if (!state.api) return;
  const now = Date.now();
  if (!state.online) {
    if (now - state.lastProbe >= PROBE_EVERY_MS) {
      state.lastProbe = now;
      await probe();
    }
    return;
  }
  if (!state.syncing && (await store.queueSize()) > 0) await sync();
  if (!store.ready || now - state.lastSnapshot >= SNAPSHOT_EVERY_MS) {
    state.lastSnapshot = now;
    await loadSnapshot();
  } else if (now - state.lastChanges >= CHANGES_EVERY_MS) {
    state.lastChanges = now;
    await pollChanges();
  }
}

async function probe() {
  try {
    await state.api.get(`${API}/ping/`, 2000);
    setOnline(true);
    tick();
  } catch (error) {
    setOnline(false);
  }
}

async function pollChanges() {
  if (!store.cursor) return;
  try {
    const since = encodeURIComponent(store.cursor);
    const answer = await state.api.get(`${API}/changes/?since=${since}`, 5000);
    if (answer.status === 401) return unpair(t("pair_failed"));
    if (answer.status === 200) await store.applyChanges(answer.data);
  } catch (error) {
    setOnline(false);
  }
}

async function sync() {
  state.syncing = true;
  renderSync();
  let notLogged = 0;
  try {
    for (;;) {
      const batch = await store.queued(200);
      if (!batch.length) break;
      const answer = await state.api.post(`${API}/sync/`, { scans: batch }, 15000);
      if (answer.status === 401) return unpair(t("pair_failed"));
      if (answer.status === 200) {
        for (const result of answer.data.results) {
          if (result.conflict) noteConflict(result);
        }
        // Invalid codes past the device's upload allowance (checkin/scanning/flood.py): the
        // scanner flooded while offline; staff must hear it as they would have online.
        notLogged += Number(answer.data.invalid_not_logged) || 0;
      } else {
        // 400/403: the batch can never be accepted as is (e.g. its list was withdrawn from
        // this device); keep the page usable and leave the evidence in the console.
        console.error("upload refused", answer.status, answer.data);
      }
      await store.dequeue(batch.map((item) => item.nonce));
      state.lastSync = new Date().toISOString();
    }
    setOnline(true);
  } catch (error) {
    if (!(error instanceof Offline)) throw error;
    setOnline(false);
  } finally {
    state.syncing = false;
    renderSync();
    if (notLogged > 0) {
      notify("error_flood_upload", `${notLogged} ${t("not_logged")}`,
             { status: "rejected", reason: "invalid" });
    }
  }
}

function setOnline(online) {
  if (state.online !== online) {
    state.online = online;
    if (online) state.lastChanges = 0;
  }
  renderSync();
}

async function renderSync() {
  const queued = store.db ? await store.queueSize() : 0;
  const el = $("sync-state");
  const mode = state.syncing ? "syncing" : state.online ? "online" : "offline";
  el.dataset.state = mode;
  el.dataset.queue = String(queued);
  let text = t(mode);
  if (queued) text += ` · ${queued} ${t("queued")}`;
  else if (state.lastSync) text += ` · ${t("synced_at")} ${formatTime(state.lastSync)}`;
  $("sync-text").textContent = text;
}

// --- scanning ----------------------------------------------------------------------------------

async function handleCode(raw, fromCamera = false) {
  const code = String(raw).trim();
  if (!code || !state.api) return;
  if (isPairingLink(code)) {
    await pair(code);
    return;
  }
  if (fromCamera) {
    const now = Date.now();
    if (code === state.lastCode && now - state.lastCodeAt < SAME_CODE_IGNORED_MS) return;
    state.lastCode = code;
    state.lastCodeAt = now;
  }
  const scan = { code, list: state.listId, type: state.direction, nonce: newNonce() };
  const claim = parseCode(code);
  await submit(scan, claim ? claim.ticketId : null, `${API}/scan/`,
               () => store.decide(code, scan.list, scan.type));
}

async function checkInTicket(ticketId) {
  const scan = { ticket: ticketId, list: state.listId, type: state.direction, nonce: newNonce() };
  // Closed on the tap, not on the answer: a scanner fired while the server answers must type
  // into the code field, not half into the search box and half into the code field.
  closeSearch();
  await submit(scan, ticketId, `${API}/manual/`,
               () => store.decideTicket(ticketId, null, scan.list, scan.type));
}

/** Send a scan online, or decide and queue it offline; show the answer either way. */
async function submit(scan, ticketId, url, decideLocally) {
  const scannedAt = new Date().toISOString();
  if (state.online) {
    try {
      const answer = await state.api.post(url, scan, SCAN_TIMEOUT_MS);
      if (answer.status === 200) {
        if (answer.data.reason === "invalid") invalidBudget.take();
        if (answer.data.status === "ok") {
          await store.noteAccepted(scan.list, ticketId, scan.type, answer.data.checked_in_at);
        }
        showResult(answer.data, { nonce: scan.nonce, type: scan.type, offline: false,
                                  code: scan.code, ticket: ticketId });
        return;
      }
      if (answer.status === 401) return unpair(t("pair_failed"));
      const detail = answer.data && answer.data.detail ? answer.data.detail : "";
      const row = { code: scan.code, ticket: scan.ticket, status: "rejected", reason: "" };
      if (answer.status === 429) {  // see checkin/scanning/flood.py
        invalidBudget.drain();
        return showMessage("error_flood", "", { ...row, reason: "invalid" });
      }
      if (answer.status === 403) return showMessage("error_list", "", row);
      showMessage("error_request", detail, row);
      return;
    } catch (error) {
      if (!(error instanceof Offline)) throw error;
      setOnline(false);
    }
  }
  const answer = store.ready ? decideLocally() : {
    status: "rejected", reason: null, attendee: null, checked_in_at: null,
    first_checked_in_at: null,
  };
  await store.enqueue({ ...scan, scanned_at: scannedAt, local_status: answer.status });
  if (answer.status === "ok") {
    await store.noteAccepted(scan.list, ticketId, scan.type, answer.checked_in_at);
  }
  renderSync();
  if (!store.ready) {
    showMessage("no_snapshot", "", { code: scan.code, ticket: scan.ticket, status: "rejected",
                                     reason: "", nonce: scan.nonce, offline: true });
    return;
  }
  if (answer.reason === "invalid" && !invalidBudget.take()) {
    // Past the allowance: what the server would have answered (429), said offline. The scan
    // stays queued; the upload's allowance decides whether the server logs it.
    showMessage("error_flood", "", { code: scan.code, status: "rejected", reason: "invalid",
                                     nonce: scan.nonce, offline: true });
    return;
  }
  showResult(answer, { nonce: scan.nonce, type: scan.type, offline: true, code: scan.code,
                       ticket: ticketId });
}

// --- the answer ----------------------------------------------------------------------------------

function showResult(answer, meta) {
  const kind = answer.status === "ok" ? "ok"
    : answer.reason === "already_checked_in" ? "warn" : "bad";
  const el = $("result");
  el.dataset.kind = kind;
  el.dataset.reason = answer.reason || "";
  el.hidden = false;
  $("result-title").textContent = answer.status === "ok"
    ? t(meta.type === "exit" ? "exit_ok" : "ok")
    : t(`reasons.${answer.reason}`);
  const attendee = answer.attendee;
  $("result-name").textContent = attendee ? attendee.name : "";
  $("result-org").textContent = attendee ? attendee.organisation : "";
  $("result-type").textContent = attendee
    ? store.ticketTypeName(attendee.ticket_type, getLanguage()) : "";
  $("result-detail").textContent = answer.first_checked_in_at
    ? `${t("checked_in_at")} ${formatTime(answer.first_checked_in_at)}` : "";
  $("result-badge").textContent = meta.offline ? t("offline_badge") : "";
  beep(kind);
  addRecent(answer, meta);
  clearTimeout(state.resultTimer);
  state.resultTimer = setTimeout(hideResult, RESULT_MS[kind]);
  focusWedge();
}

/** A red answer with a message (`key` in i18n.js) instead of a decision; `row`: its scan. */
function showMessage(key, detail = "", row = null) {
  showResult({ status: "rejected", reason: "", attendee: null }, { type: "entry" });
  $("result-title").textContent = t(key) + (detail ? ` — ${detail}` : "");
  if (row) recent.add({ ...row, message: key, detail });
}

function hideResult() {
  $("result").hidden = true;
  const notice = state.notice;
  state.notice = null;
  if (notice) showMessage(...notice);
}

/** A message from the background (an upload): at once, or when the answer on screen (a
 * person at the door) has had its time. */
function notify(key, detail = "", row = null) {
  if ($("result").hidden || $("door").hidden) showMessage(key, detail, row);
  else state.notice = [key, detail, row];
}

function addRecent(answer, meta) {
  if (!meta.nonce) return;
  recent.add({
    name: answer.attendee ? answer.attendee.name : "",
    code: meta.code || null,
    ticket: meta.ticket || null,
    status: answer.status,
    reason: answer.reason,
    nonce: meta.nonce,
    type: meta.type,
    offline: meta.offline,
  });
}

function noteConflict(result) {
  const item = recent.find(result.nonce);
  if (item) recent.update(item, { conflict: true });
  else recent.add({ name: result.attendee ? result.attendee.name : "", status: "rejected",
                    reason: result.reason, nonce: result.nonce, conflict: true });
}

async function undo(item) {
  const queued = (await store.queued(10000)).find((q) => q.nonce === item.nonce);
  if (queued) {
    // Not uploaded yet: forget it locally; the next snapshot/changes poll corrects presence.
    await store.dequeue([item.nonce]);
    state.lastSnapshot = 0;
  } else {
    try {
      const answer = await state.api.post(`${API}/annul/`, { nonce: item.nonce }, 5000);
      if (answer.status !== 200) {
        showMessage("error_request", answer.data ? answer.data.detail : "");
        return;
      }
      state.lastChanges = 0;
    } catch (error) {
      showMessage("undo_offline");
      return;
    }
  }
  await recent.update(item, { undone: true });
  renderSync();
}

// --- search and manual check-in --------------------------------------------------------------

let searchTimer = null;

function openSearch() {
  $("search").hidden = false;
  $("search-q").value = "";
  $("search-results").replaceChildren();
  $("search-q").focus();
}

function closeSearch() {
  $("search").hidden = true;
  focusWedge();
}

async function runSearch() {
  const q = $("search-q").value;
  let results = null;
  if (state.online) {
    try {
      results = await searchOnline(state.api, q, state.listId);
    } catch (error) {
      if (!(error instanceof Offline)) throw error;
      setOnline(false);
    }
  }
  if (results === null) results = searchOffline(store, q, state.listId);
  renderResults($("search-results"), q, results, checkInTicket);
}

// --- header, lists, direction, language, camera --------------------------------------------------

function renderHeader() {
  $("event-name").textContent = store.event ? store.event.name : "";
  $("device-name").textContent = store.device
    ? [store.device.name, store.device.gate].filter(Boolean).join(" · ") : "";
  const select = $("list");
  const lists = [...store.lists.values()];
  const saved = Number(localStorage.getItem("varco-list"));
  state.listId = lists.some((l) => l.id === saved) ? saved : lists.length ? lists[0].id : null;
  select.replaceChildren(...lists.map((l) => new Option(l.name, String(l.id))));
  select.value = String(state.listId);
  select.parentElement.hidden = lists.length < 2;
  renderDirection();
}

function renderDirection() {
  const list = store.lists.get(state.listId);
  const exits = Boolean(list && list.allow_exit);
  $("direction").hidden = !exits;
  if (!exits) state.direction = "entry";
  $("dir-entry").setAttribute("aria-pressed", String(state.direction === "entry"));
  $("dir-exit").setAttribute("aria-pressed", String(state.direction === "exit"));
}

function focusWedge() {
  if ($("search").hidden && !$("door").hidden) $("code").focus({ preventScroll: true });
}

// --- keyboard-wedge scanners, wherever focus is (wedge.js) ------------------------------------

/** The field a scanner's keystrokes belong in now: the pairing token, the search box, or the code. */
function scanField() {
  if (!$("pair").hidden) return $("pair-token");
  if (!$("search").hidden) return $("search-q");
  return $("door").hidden ? null : $("code");
}

function bindUi() {
  document.addEventListener("pointerdown", unlockAudio, { passive: true });
  document.addEventListener("keydown", unlockAudio);
  $("pair-form").addEventListener("submit", (event) => {
    event.preventDefault();
    pair($("pair-token").value);
  });
  $("pair-camera").addEventListener("click", () => {
    filmPairingLink($("pair-video"), $("pair-error"), isPairingLink, pair);
  });
  $("wedge").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("code").value;
    $("code").value = "";
    handleCode(value);
  });
  $("result").addEventListener("click", hideResult);
  $("camera-toggle").addEventListener("click", () => camera.toggle());
  $("search-open").addEventListener("click", openSearch);
  $("search-close").addEventListener("click", closeSearch);
  $("search-q").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 250);
  });
  $("list").addEventListener("change", (event) => {
    state.listId = Number(event.target.value);
    localStorage.setItem("varco-list", String(state.listId));
    renderDirection();
    focusWedge();
  });
  $("dir-entry").addEventListener("click", () => {
    state.direction = "entry";
    renderDirection();
    focusWedge();
  });
  $("dir-exit").addEventListener("click", () => {
    state.direction = "exit";
    renderDirection();
    focusWedge();
  });
  $("lang").addEventListener("click", () => {
    const next = getLanguage() === "it" ? "en" : "it";
    localStorage.setItem("varco-lang", next);
    setLanguage(next);
    renderSync();
    recent.render();
    for (const id of ["camera-note", "pair-error"]) {
      const note = $(id);
      if (note.dataset.problem) cameraNote(note, note.dataset.problem);
    }
  });
  $("unpair").addEventListener("click", () => {
    if (confirm(t("unpair_confirm"))) unpair("");
  });
  listenForScanners(window, {
    field: scanField,
    formFields: [$("code"), $("pair-token")],
    search: $("search-q"),
    onCode: (code, field) => (field === $("pair-token") ? pair(code) : handleCode(code)),
    codeAtEnd: (text) => (parseCode(text.slice(-CODE_LENGTH)) ? CODE_LENGTH : 0),
  });
  window.addEventListener("hashchange", () => pairFromHash());
  window.addEventListener("online", () => probe());
  window.addEventListener("offline", () => setOnline(false));
}

main();
