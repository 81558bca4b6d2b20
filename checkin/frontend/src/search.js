// "Find attendee" on the door page: the server's search while online (GET /search/), the
// offline copy's otherwise, and the list of results with their "check in" buttons.
import { formatTime, t } from "./i18n.js";

const API = "/api/v1/checkin";

/** The server's results, or null if it answered with an error (Offline if it did not answer). */
export async function searchOnline(api, query, listId) {
  const answer = await api.get(
    `${API}/search/?q=${encodeURIComponent(query)}&list=${listId}`, 4000);
  return answer.status === 200 ? answer.data.results : null;
}

/** The same shape from the device's offline copy (Store). */
export function searchOffline(store, query, listId) {
  return store.search(query).map((ticket) => {
    const p = store.presenceOf(listId, ticket.id);
    return { ticket: ticket.id, reference: ticket.reference, status: ticket.status,
             name: ticket.name, organisation: ticket.organisation,
             checked_in: Boolean(p && p.entries),
             first_checked_in_at: p ? p.first_entry_at : null };
  });
}

export function renderResults(list, query, results, onCheckIn) {
  list.replaceChildren();
  if (!results.length && query.trim().length >= 2) {
    const li = document.createElement("li");
    li.textContent = t("search_none");
    list.append(li);
  }
  for (const r of results) {
    const li = document.createElement("li");
    const text = document.createElement("span");
    text.textContent = `${r.name} — ${r.organisation || ""} (${r.reference})` +
      (r.checked_in ? ` — ${t("checked_in_at")} ${formatTime(r.first_checked_in_at)}` : "");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = t("check_in");
    button.setAttribute("aria-label", `${t("check_in")}: ${r.name}`);
    button.addEventListener("click", () => onCheckIn(r.ticket));
    li.append(text, button);
    list.append(li);
  }
}
