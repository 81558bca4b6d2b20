// Texts of the door page, in English (the source language); other languages come from the
// check-in app's gettext catalogue (checkin/locale/<lang>/LC_MESSAGES/django.po, msgctxt
// "door"), which the build (build.mjs) puts into the bundle, so the page translates offline
// too. `make messages` finds these strings by their pgettext("door", ...) calls; to add one, add
// it here and run `make messages`, then translate it in the .po and `make frontend`.
// The page starts in the language Django chose (Accept-Language) unless staff picked one,
// which is remembered on the device.
import CATALOGUES from "varco:catalogues";

// Only marks a string for extraction (xgettext knows pgettext(context, msgid)); t() translates
// it once the language is known, so the language can change without reloading the page.
const pgettext = (context, msgid) => msgid;

const MESSAGES = {
  title: pgettext("door", "Varco — door"),
  pair_title: pgettext("door", "Pair this device"),
  pair_help: pgettext(
    "door",
    "Scan the pairing QR shown to the organiser, or paste the device token.",
  ),
  pair_token: pgettext("door", "Device token"),
  pair_button: pgettext("door", "Pair"),
  pair_camera: pgettext("door", "Scan the pairing QR"),
  pair_failed: pgettext("door", "Invalid token or revoked device."),
  unpair: pgettext("door", "Unpair"),
  unpair_confirm: pgettext("door", "Unpair this device? Scans not yet synced stay queued."),
  // Short: it must fit the field on a 360–390 px phone (the Enter key says "go").
  scan_placeholder: pgettext("door", "Scan or type a code"),
  camera_start: pgettext("door", "Start camera"),
  camera_stop: pgettext("door", "Stop camera"),
  // Camera.problem() / Camera.failure(): what is wrong, then what to do instead.
  camera_insecure: pgettext(
    "door",
    "The camera needs a secure connection (HTTPS). Use a scanner or type the code.",
  ),
  camera_unsupported: pgettext(
    "door",
    "This browser cannot use the camera. Use a scanner or type the code.",
  ),
  camera_denied: pgettext(
    "door",
    "Camera permission denied: allow it in the browser's settings, or use a scanner.",
  ),
  camera_missing: pgettext("door", "No camera found. Use a scanner or type the code."),
  camera_unavailable: pgettext(
    "door",
    "Camera unavailable. Use a scanner or type the code.",
  ),
  entry: pgettext("door", "Entry"),
  exit: pgettext("door", "Exit"),
  list: pgettext("door", "List"),
  search: pgettext("door", "Find attendee"),
  search_placeholder: pgettext("door", "Name, organisation or ticket reference"),
  search_none: pgettext("door", "No results"),
  check_in: pgettext("door", "Check in"),
  checked_in_at: pgettext("door", "Entered at"),
  recent: pgettext("door", "Recent scans"),
  undo: pgettext("door", "Undo"),
  undone: pgettext("door", "Undone"),
  no_attendee: pgettext("door", "No attendee"),
  direction: pgettext("door", "Direction"),
  close_search: pgettext("door", "Close search"),
  code_label: pgettext("door", "Ticket code"),
  search_label: pgettext("door", "Search attendees"),
  undo_offline: pgettext("door", "Undo needs a connection."),
  online: pgettext("door", "Online"),
  offline: pgettext("door", "Offline"),
  syncing: pgettext("door", "Syncing"),
  queued: pgettext("door", "queued"),
  synced_at: pgettext("door", "synced at"),
  conflict: pgettext("door", "Conflict: already entered at another gate"),
  ok: pgettext("door", "Welcome"),
  exit_ok: pgettext("door", "Exit recorded"),
  offline_badge: pgettext("door", "recorded offline"),
  reasons: {
    already_checked_in: pgettext("door", "Already checked in"),
    invalid: pgettext("door", "Invalid code"),
    unknown: pgettext("door", "Unknown ticket"),
    revoked: pgettext("door", "Ticket revoked"),
    wrong_event: pgettext("door", "Ticket for another event"),
    not_allowed: pgettext("door", "Not admitted at this entrance"),
    closed: pgettext("door", "Entrance closed at this time"),
  },
  error_request: pgettext("door", "Invalid request"),
  error_flood: pgettext(
    "door",
    "Invalid code. Too many unreadable codes from this scanner: check it",
  ),
  // An upload's invalid codes went past the server's allowance (`invalid_not_logged`); the
  // count follows with "not_logged".
  error_flood_upload: pgettext(
    "door",
    "Too many unreadable codes from this scanner while offline: check it",
  ),
  not_logged: pgettext("door", "not logged"),
  error_list: pgettext("door", "List not allowed for this device"),
  no_snapshot: pgettext("door", "Offline data not downloaded yet"),
};

let language = "it";

export function setLanguage(code) {
  language = CATALOGUES[code] ? code : "en";
  document.documentElement.lang = language;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of document.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  }
}

export function getLanguage() {
  return language;
}

export function t(key) {
  let msgid = MESSAGES;
  for (const part of key.split(".")) msgid = msgid && msgid[part];
  if (typeof msgid !== "string") return key;
  const catalogue = CATALOGUES[language];
  return (catalogue && catalogue[msgid]) || msgid;
}

export function formatTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString(language === "it" ? "it-IT" : "en-GB", {
    hour: "2-digit",
    minute: "2-digit",
  });
}
