// Italian and English texts of the door page. The page starts in the language Django chose
// (Accept-Language) unless staff picked one, which is remembered on the device.
const TEXTS = {
  it: {
    title: "Varco — ingresso",
    pair_title: "Collega questo dispositivo",
    pair_help: "Inquadra il QR di abbinamento mostrato all'organizzatore, oppure incolla il token del dispositivo.",
    pair_token: "Token del dispositivo",
    pair_button: "Collega",
    pair_camera: "Inquadra il QR di abbinamento",
    pair_failed: "Token non valido o dispositivo revocato.",
    unpair: "Scollega",
    unpair_confirm: "Scollegare questo dispositivo? Le scansioni non sincronizzate restano in coda.",
    scan_placeholder: "Scansiona o digita il codice e premi Invio",
    camera_start: "Avvia fotocamera",
    camera_stop: "Ferma fotocamera",
    camera_unavailable: "Fotocamera non disponibile (serve HTTPS). Usa un lettore o digita il codice.",
    entry: "Ingresso",
    exit: "Uscita",
    list: "Lista",
    search: "Cerca partecipante",
    search_placeholder: "Nome, organizzazione o codice biglietto",
    search_none: "Nessun risultato",
    check_in: "Registra ingresso",
    checked_in_at: "Entrato alle",
    recent: "Ultime scansioni",
    undo: "Annulla",
    undone: "Annullato",
    undo_offline: "Per annullare serve la connessione.",
    online: "Online",
    offline: "Offline",
    syncing: "Sincronizzazione",
    queued: "in coda",
    synced_at: "sincronizzato alle",
    conflict: "Conflitto: già entrato da un altro varco",
    ok: "Benvenuto",
    exit_ok: "Uscita registrata",
    offline_badge: "registrato offline",
    reasons: {
      already_checked_in: "Già entrato",
      invalid: "Codice non valido",
      unknown: "Biglietto sconosciuto",
      revoked: "Biglietto annullato",
      wrong_event: "Biglietto di un altro evento",
      not_allowed: "Non ammesso a questo ingresso",
      closed: "Ingresso chiuso in questo orario",
    },
    error_request: "Richiesta non valida",
    error_flood: "Codice non valido. Troppi codici illeggibili da questo scanner: controllalo",
    error_list: "Lista non consentita per questo dispositivo",
    no_snapshot: "Dati offline non ancora scaricati",
  },
  en: {
    title: "Varco — door",
    pair_title: "Pair this device",
    pair_help: "Scan the pairing QR shown to the organiser, or paste the device token.",
    pair_token: "Device token",
    pair_button: "Pair",
    pair_camera: "Scan the pairing QR",
    pair_failed: "Invalid token or revoked device.",
    unpair: "Unpair",
    unpair_confirm: "Unpair this device? Scans not yet synced stay queued.",
    scan_placeholder: "Scan or type the code and press Enter",
    camera_start: "Start camera",
    camera_stop: "Stop camera",
    camera_unavailable: "Camera unavailable (HTTPS needed). Use a scanner or type the code.",
    entry: "Entry",
    exit: "Exit",
    list: "List",
    search: "Find attendee",
    search_placeholder: "Name, organisation or ticket reference",
    search_none: "No results",
    check_in: "Check in",
    checked_in_at: "Entered at",
    recent: "Recent scans",
    undo: "Undo",
    undone: "Undone",
    undo_offline: "Undo needs a connection.",
    online: "Online",
    offline: "Offline",
    syncing: "Syncing",
    queued: "queued",
    synced_at: "synced at",
    conflict: "Conflict: already entered at another gate",
    ok: "Welcome",
    exit_ok: "Exit recorded",
    offline_badge: "recorded offline",
    reasons: {
      already_checked_in: "Already checked in",
      invalid: "Invalid code",
      unknown: "Unknown ticket",
      revoked: "Ticket revoked",
      wrong_event: "Ticket for another event",
      not_allowed: "Not admitted at this entrance",
      closed: "Entrance closed at this time",
    },
    error_request: "Invalid request",
    error_flood: "Invalid code. Too many unreadable codes from this scanner: check it",
    error_list: "List not allowed for this device",
    no_snapshot: "Offline data not downloaded yet",
  },
};

let language = "it";

export function setLanguage(code) {
  language = TEXTS[code] ? code : "en";
  document.documentElement.lang = language;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
}

export function getLanguage() {
  return language;
}

export function t(key) {
  const parts = key.split(".");
  let value = TEXTS[language];
  for (const part of parts) value = value && value[part];
  return value === undefined ? key : value;
}

export function formatTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString(language === "it" ? "it-IT" : "en-GB", {
    hour: "2-digit",
    minute: "2-digit",
  });
}
