// The door's list of recent scans, each with its undo. Kept in the device's IndexedDB (Store,
// key "recent") so that a reload, a crash or a dead battery keeps the list and the undo of what
// was just scanned. It belongs to the paired device: pairing another device starts a new list,
// pairing the same one again brings it back. Bounded to the last RECENT_LIMIT scans.
import { formatTime, t } from "./i18n.js";

export const RECENT_LIMIT = 20;

/** A long code shortened for a row: enough to recognise it, never the whole 127 characters. */
export function codeExcerpt(code) {
  const text = String(code || "").trim();
  return text.length > 16 ? `${text.slice(0, 8)}…${text.slice(-4)}` : text;
}

export function kindOf(item) {
  if (item.undone) return "undone";
  if (item.status === "ok") return "ok";
  return item.reason === "already_checked_in" ? "warn" : "bad";
}

/** What happened, in the page's current language (rows are re-rendered on a language switch). */
function outcome(item) {
  if (item.message) return t(item.message) + (item.detail ? ` — ${item.detail}` : "");
  if (item.status === "ok") return t(item.type === "exit" ? "exit_ok" : "ok");
  return t(`reasons.${item.reason}`);
}

/** Who: the attendee's name, else what was scanned (an invalid code has no attendee). */
function subject(item) {
  if (item.name) return item.name;
  if (item.code) return `«${codeExcerpt(item.code)}»`;
  return item.ticket ? `#${item.ticket}` : t("no_attendee");
}

export class Recent {
  constructor(store, list, onUndo) {
    this.store = store;
    this.list = list;
    this.onUndo = onUndo;
    this.items = [];
    this.device = null;
  }

  /** The saved list, if it belongs to `device` (the paired device's id; null: not known yet). */
  async load(device) {
    const saved = await this.store.getRecent();
    this.device = device;
    this.items = saved && Array.isArray(saved.items) && (device === null || saved.device === device)
      ? saved.items.slice(0, RECENT_LIMIT) : [];
    if (saved && device === null) this.device = saved.device;
    this.render();
  }

  /** Pairing: keep the saved list of the same device (a pairing link opened again), start
   * afresh for another. */
  async paired(device) {
    const saved = await this.store.getRecent();
    const same = saved && saved.device === device && Array.isArray(saved.items);
    this.items = same ? saved.items.slice(0, RECENT_LIMIT) : [];
    this.device = device;
    await this.save();
    this.render();
  }

  async add(item) {
    this.items.unshift({ at: new Date().toISOString(), undone: false, ...item });
    this.items = this.items.slice(0, RECENT_LIMIT);
    this.render();
    await this.save();
  }

  find(nonce) {
    return this.items.find((item) => item.nonce === nonce) || null;
  }

  async update(item, changes) {
    Object.assign(item, changes);
    this.render();
    await this.save();
  }

  async save() {
    await this.store.setRecent({ device: this.device, items: this.items });
  }

  render() {
    this.list.replaceChildren(...this.items.map((item) => this.row(item)));
  }

  row(item) {
    const li = document.createElement("li");
    li.dataset.kind = kindOf(item);
    if (item.nonce) li.dataset.nonce = item.nonce;
    const text = document.createElement("span");
    text.className = "recent-text";
    const when = document.createElement("span");
    when.className = "recent-time";
    when.textContent = formatTime(item.at);
    const who = document.createElement("span");
    who.className = "recent-who";
    who.textContent = subject(item);
    const what = document.createElement("span");
    what.className = "recent-what";
    what.textContent = outcome(item) + (item.conflict ? ` — ${t("conflict")}` : "") +
      (item.offline ? ` — ${t("offline_badge")}` : "");
    text.append(when, " ", who, " — ", what);
    if (item.undone) {
      const undone = document.createElement("span");
      undone.className = "recent-undone";
      undone.textContent = t("undone");
      text.append(" — ", undone);
    }
    li.append(text);
    if (item.status === "ok" && !item.undone && item.nonce) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "undo";
      button.textContent = t("undo");
      button.setAttribute("aria-label", `${t("undo")}: ${subject(item)}`);
      button.addEventListener("click", () => this.onUndo(item));
      li.append(button);
    }
    return li;
  }
}
