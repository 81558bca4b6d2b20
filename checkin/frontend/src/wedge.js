// Keyboard-wedge scanners (USB or Bluetooth) "type" a code into whatever has focus: a burst of
// keystrokes a few milliseconds apart, then Enter. The door page must answer such a burst
// wherever focus happens to be (a button just tapped, the list picker, the page itself, the
// search box), while a person typing in the search box keeps their text. Burst tells the two
// apart by timing alone, the way commercial wedge handlers do: scanners send characters 1–30 ms
// apart, people 80 ms or more even when typing fast, and nobody types six characters in a row
// at scanner speed. door.js feeds it every printable key and Enter (capture phase).

// A pause longer than this starts a new burst: a scanner never pauses mid-code this long.
export const BURST_GAP_MS = 100;
// The mean gap of a scanner's burst. Generous (scanners: 1–30 ms; people: 80+ ms) so that a
// busy phone or Bluetooth jitter still counts as a scanner.
export const BURST_MEAN_MS = 45;
// Shorter bursts are not codes (Varco's are 127 characters; other systems' at least ~8).
export const BURST_MIN_LENGTH = 6;

export class Burst {
  constructor({ gapMs = BURST_GAP_MS, meanMs = BURST_MEAN_MS, minLength = BURST_MIN_LENGTH } = {}) {
    this.gapMs = gapMs;
    this.meanMs = meanMs;
    this.minLength = minLength;
    this.reset();
  }

  reset() {
    this.chars = "";
    this.first = 0;
    this.last = -Infinity;
    this.field = null;
    this.before = null;
  }

  get empty() {
    return this.chars === "";
  }

  /**
   * A printable key at time `t` (ms), about to land in `field` (an element with a `value`, or
   * null). The field's value before the burst is kept, so a scan typed into the search box
   * can be taken back out of it.
   */
  key(char, t, field = null) {
    if (t - this.last > this.gapMs || field !== this.field) {
      this.chars = "";
      this.first = t;
      this.field = field;
      this.before = field ? field.value : null;
    }
    this.chars += char;
    this.last = t;
  }

  /**
   * Enter at time `t`: `{code, field, before}` if what came before was a scanner's burst, else
   * null. Either way the burst is over.
   */
  enter(t) {
    const n = this.chars.length;
    const fast = n >= this.minLength && t - this.last <= this.gapMs &&
      (this.last - this.first) / (n - 1) <= this.meanMs;
    const burst = fast ? { code: this.chars, field: this.field, before: this.before } : null;
    this.reset();
    return burst;
  }
}

function isTextField(el) {
  return (el instanceof HTMLInputElement && /^(text|search|url|)$/.test(el.type)) ||
    el instanceof HTMLTextAreaElement;
}

/**
 * Route scanners' keystrokes to the scan wherever focus is: every key, before the focused
 * element sees it (capture phase on `target`).
 *
 * - In a form field of `formFields` (the code, the pairing token) the form does the work.
 * - Elsewhere (a button just tapped, the list picker, the page) a printable key is moved into
 *   `field()`, the field scans belong in now, so a person sees what they type and the rest of a
 *   scanner's burst follows it there natively, Enter included.
 * - In the `search` box keys stay; an Enter closing a scanner-speed burst (Burst) takes the
 *   burst back out of the box, restores what the person had typed, and calls
 *   `onCode(code, field())`. `codeAtEnd(text)` gives the length of a code of a known format
 *   ending `text` (0: none), so a burst a busy device split in two is still scanned whole.
 * - Space and Enter on a focused button still press it when no burst precedes them, so the
 *   page stays usable from a keyboard.
 */
export function listenForScanners(target, { field, formFields, search, onCode,
                                           codeAtEnd = () => 0 }) {
  const burst = new Burst();
  target.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    const into = field();
    if (!into) return;
    const focused = event.target;
    if (event.key === "Enter") {
      const done = burst.enter(event.timeStamp);
      if (formFields.includes(focused) || !done) return;
      event.preventDefault();
      event.stopPropagation();
      let code = done.code;
      if (done.field === search) {
        // A busy device may pause mid-burst (the burst then holds only the code's tail): when
        // the box ends with a whole code of a known format, the code is that.
        const whole = codeAtEnd(search.value);
        if (whole > code.length) code = search.value.slice(-whole);
        search.value = whole > done.code.length ? search.value.slice(0, -whole) : done.before;
        search.dispatchEvent(new Event("input"));
      }
      onCode(code, into);
      return;
    }
    if (event.key.length !== 1) {
      if (event.key !== "Shift" && event.key !== "CapsLock") burst.reset();
      return;
    }
    if (isTextField(focused)) {
      burst.key(event.key, event.timeStamp, focused);
      return;
    }
    if (event.key === " " && burst.empty) return;
    event.preventDefault();
    burst.key(event.key, event.timeStamp, into);
    into.focus({ preventScroll: true });
    into.value += event.key;
    into.dispatchEvent(new Event("input"));
  }, { capture: true });
  return burst;
}
