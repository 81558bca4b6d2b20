// What staff paste or open to pair a device: the bare token, or the printed/shared pairing link
// (https://host/scan/#pair=<token>, also with other parameters around it). The link carries the
// token in the fragment so it never reaches a server log; the page takes it from there.

/** The device token in `text` (a token or a pairing link); "" if there is none. */
export function tokenFrom(text) {
  const value = String(text || "").trim();
  const match = value.match(/[#?&]pair=([^&#\s]*)/);
  if (!match) return value;
  try {
    return decodeURIComponent(match[1]).trim();
  } catch (error) {
    return match[1]; // a stray "%": not URL-encoded, take it as it is
  }
}

/** Whether a scanned or typed text is a pairing link (rather than a ticket code). */
export function isPairingLink(text) {
  return /#(?:[^#]*&)?pair=[^&#\s]/.test(String(text || ""));
}

/** The token of a `#pair=` fragment (location.hash), or null. */
export function tokenFromHash(hash) {
  if (!/[#&]pair=/.test(hash || "")) return null;
  return tokenFrom(hash) || null;
}
