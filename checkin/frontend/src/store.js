// The device's offline copy (snapshot + changes feed) and its queue of scans to upload, kept in
// IndexedDB so that a reload or a dead battery loses nothing. Local decisions follow the same
// rules as the server (src/admission.js, held to the server's by checkin/admission_cases.json);
// the server has the last word when scans upload.
import { openDB } from "idb";
import { afterAccepted, rejection } from "./admission.js";
import { base64urlDecode, verifyCode } from "./codes.js";

const DB_NAME = "varco-door";

function presenceKey(listId, ticketId) {
  return `${listId}:${ticketId}`;
}

export class Store {
  constructor() {
    this.db = null;
    this.reset();
  }

  reset() {
    this.event = null;
    this.device = null;
    this.lists = new Map();
    this.keys = new Map();
    this.ticketTypes = {};
    this.ticketTypeNames = {}; // id -> {language: name}: the names' translations
    this.tickets = new Map(); // id -> {id, version, status, name, organisation, ticket_type, reference}
    this.revoked = new Map(); // id -> version
    this.presence = new Map(); // "list:ticket" -> {inside, entries, first_entry_at, last_entry_at}
    this.cursor = null;
    this.loadedAt = null;
    this.invalidLimit = null; // {rate, burst}: the device's allowance of invalid codes (flood.js)
  }

  async open() {
    this.db = await openDB(DB_NAME, 1, {
      upgrade(db) {
        db.createObjectStore("kv");
        db.createObjectStore("queue", { keyPath: "nonce" });
      },
    });
    const saved = await this.db.get("kv", "snapshot");
    if (saved) this._applySnapshot(saved, false);
    const presence = await this.db.get("kv", "presence");
    if (presence) this.presence = new Map(presence);
  }

  get ready() {
    return this.event !== null;
  }

  async getToken() {
    return (await this.db.get("kv", "token")) || null;
  }

  async setToken(token) {
    if (token) await this.db.put("kv", token, "token");
    else await this.db.delete("kv", "token");
  }

  async forget() {
    this.reset();
    await this.db.delete("kv", "snapshot");
    await this.db.delete("kv", "presence");
  }

  // --- snapshot and changes ------------------------------------------------------------------

  async saveSnapshot(data) {
    this._applySnapshot(data, true);
    await this.db.put("kv", data, "snapshot");
    await this.savePresence();
  }

  _applySnapshot(data, withPresence) {
    this.reset();
    this.event = data.event;
    this.device = data.device;
    for (const list of data.lists) this.lists.set(list.id, list);
    for (const key of data.keys) {
      this.keys.set(key.id, { event: key.event, key: base64urlDecode(key.public_key) });
    }
    this.ticketTypes = data.ticket_types || {};
    this.ticketTypeNames = data.ticket_type_names || {};
    this._applyTickets(data.ticket_fields, data.tickets);
    for (const [id, version] of data.revoked) this.revoked.set(id, version);
    if (withPresence) this._applyPresence(data.presence_fields, data.presence);
    this.cursor = data.cursor;
    this.loadedAt = data.generated_at;
    this.invalidLimit = data.invalid_code_limit || null;
  }

  _applyTickets(fields, rows) {
    for (const row of rows) {
      const ticket = Object.fromEntries(fields.map((name, i) => [name, row[i]]));
      if (ticket.status === "valid") {
        this.tickets.set(ticket.id, ticket);
        this.revoked.delete(ticket.id);
      } else {
        this.tickets.delete(ticket.id);
        this.revoked.set(ticket.id, ticket.version);
      }
    }
  }

  _applyPresence(fields, rows) {
    for (const row of rows) {
      const p = Object.fromEntries(fields.map((name, i) => [name, row[i]]));
      const key = presenceKey(p.list, p.ticket);
      const known = this.presence.get(key) || {};
      this.presence.set(key, {
        inside: p.inside,
        entries: p.entries,
        first_entry_at: p.first_entry_at,
        last_entry_at: known.last_entry_at || p.first_entry_at,
      });
    }
  }

  /** Apply the server's changes feed (other devices' scans, ticket revocations). */
  async applyChanges(feed) {
    this._applyTickets(feed.ticket_fields, feed.tickets);
    this._applyPresence(feed.presence_fields, feed.presence);
    this.cursor = feed.cursor;
    if (feed.presence.length) await this.savePresence();
    return feed.scans.filter((s) => !s.own).length;
  }

  async savePresence() {
    await this.db.put("kv", [...this.presence], "presence");
  }

  // --- local decisions -------------------------------------------------------------------------

  attendee(ticket) {
    return {
      name: ticket.name,
      organisation: ticket.organisation || "",
      ticket_type: this.ticketTypes[String(ticket.ticket_type)] || "",
    };
  }

  /**
   * A ticket type's name (as the server and the local decisions give it) in `language`: the
   * organiser's translation when there is one, else the name itself.
   */
  ticketTypeName(name, language) {
    if (!name) return "";
    for (const [id, base] of Object.entries(this.ticketTypes)) {
      if (base === name) {
        const translations = this.ticketTypeNames[id] || {};
        return translations[language] || name;
      }
    }
    return name;
  }

  // --- this device's recent scans (kept across reloads; see recent.js) -------------------------

  async getRecent() {
    return (await this.db.get("kv", "recent")) || null;
  }

  async setRecent(value) {
    await this.db.put("kv", value, "recent");
  }

  /** Decide a scan offline; same answer shape as POST /api/v1/checkin/scan/. */
  decide(code, listId, direction, now = new Date()) {
    const claim = verifyCode(code, this.keys);
    if (!claim) return this._rejected("invalid");
    if (claim.eventId !== this.event.id) return this._rejected("wrong_event");
    return this.decideTicket(claim.ticketId, claim.version, listId, direction, now);
  }

  decideTicket(ticketId, version, listId, direction, now = new Date()) {
    const ticket = this.tickets.get(ticketId) || null;
    const p = this.presence.get(presenceKey(listId, ticketId)) || null;
    const reason = rejection({
      claimEvent: this.event.id, eventId: this.event.id, ticket,
      wasRevoked: this.revoked.has(ticketId), version, list: this.lists.get(listId),
      presence: p, direction, now,
    });
    const attendee = ticket ? this.attendee(ticket) : null;
    if (reason === "already_checked_in") {
      return {
        status: "rejected", reason, attendee, ticket: ticketId,
        checked_in_at: p.last_entry_at, first_checked_in_at: p.first_entry_at,
      };
    }
    if (reason !== null) return this._rejected(reason, attendee, ticket ? ticketId : null);
    return {
      status: "ok", reason: null, attendee, ticket: ticketId,
      checked_in_at: direction === "exit" ? (p ? p.last_entry_at : null) : now.toISOString(),
      first_checked_in_at: null,
    };
  }

  _rejected(reason, attendee = null, ticket = null) {
    return { status: "rejected", reason, attendee, ticket,
             checked_in_at: null, first_checked_in_at: null };
  }

  /** Record the effect of an accepted scan (local or the server's) on the local presence. */
  async noteAccepted(listId, ticketId, direction, at) {
    if (!ticketId) return;
    const key = presenceKey(listId, ticketId);
    this.presence.set(key, afterAccepted(this.presence.get(key), direction, at));
    await this.savePresence();
  }

  search(query) {
    const q = query.trim().toLowerCase();
    if (q.length < 2) return [];
    const ref = q.replace(/[^0-9a-z]/g, "").toUpperCase();
    const results = [];
    for (const ticket of this.tickets.values()) {
      const reference = (ticket.reference || "").replace("-", "");
      if (
        ticket.name.toLowerCase().includes(q) ||
        (ticket.organisation || "").toLowerCase().includes(q) ||
        (ref.length === 8 && reference === ref)
      ) {
        results.push(ticket);
        if (results.length >= 25) break;
      }
    }
    return results;
  }

  presenceOf(listId, ticketId) {
    return this.presence.get(presenceKey(listId, ticketId)) || null;
  }

  // --- the upload queue --------------------------------------------------------------------------

  async enqueue(item) {
    await this.db.put("queue", item);
  }

  async queued(limit = 200) {
    const all = await this.db.getAll("queue");
    all.sort((a, b) => (a.scanned_at < b.scanned_at ? -1 : 1));
    return all.slice(0, limit);
  }

  async queueSize() {
    return this.db.count("queue");
  }

  async dequeue(nonces) {
    const tx = this.db.transaction("queue", "readwrite");
    await Promise.all([...nonces.map((n) => tx.store.delete(n)), tx.done]);
  }
}
