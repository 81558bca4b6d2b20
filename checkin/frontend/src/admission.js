// The admission rules for the door page's offline decisions: pure functions, no storage.
// The same rules have two more implementations on the server, in checkin/scanning/: the
// PostgreSQL scan statement (postgres.py) and the generic (SQLite) path (generic.py). One table
// of cases, checkin/admission_cases.json, holds all three to the same answers:
// tests/checkin/test_admission_cases.py runs it against the server's two and, through
// `node --test checkin/frontend/test/`, this one.
// Change a rule here only together with the other two and the table.

/** Is the list open at ``now``? (opens_at inclusive, closes_at exclusive, as the server.) */
export function isOpen(list, now) {
  if (list.opens_at && now < new Date(list.opens_at)) return false;
  return !(list.closes_at && now >= new Date(list.closes_at));
}

/**
 * The rejection reason for a scan, or null when it is accepted. In the server's order:
 * wrong_event, unknown, revoked, closed, not_allowed, then for entries already_checked_in.
 *
 * claimEvent: the event the code was signed for; eventId: the device's event;
 * ticket: the offline copy's valid ticket or null; wasRevoked: the id is in the revoked set;
 * version: the code's version (null for a manual check-in: any current version);
 * presence: {inside, entries} on this list or null.
 */
export function rejection({ claimEvent, eventId, ticket, wasRevoked, version, list, presence,
                            direction, now }) {
  if (claimEvent !== eventId) return "wrong_event";
  if (!ticket) return wasRevoked ? "revoked" : "unknown";
  if (version !== null && ticket.version !== version) return "revoked";
  if (!isOpen(list, now)) return "closed";
  if (
    (list.ticket_types && !list.ticket_types.includes(ticket.ticket_type)) ||
    (direction === "exit" && !list.allow_exit)
  ) {
    return "not_allowed";
  }
  if (direction === "exit") return null; // someone not inside may leave: changes nothing
  const mayEnter =
    !presence || presence.entries === 0 ||
    (list.allow_reentry && (!presence.inside || !list.allow_exit));
  return mayEnter ? null : "already_checked_in";
}

/** The presence after an accepted scan (a new object; ``p`` may be null). */
export function afterAccepted(p, direction, at) {
  const next = p
    ? { ...p }
    : { inside: false, entries: 0, first_entry_at: null, last_entry_at: null };
  if (direction === "exit") {
    next.inside = false;
  } else {
    next.inside = true;
    next.entries += 1;
    next.first_entry_at = next.first_entry_at || at;
    next.last_entry_at = at;
  }
  return next;
}
