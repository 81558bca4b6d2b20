// The device's allowance of invalid codes while the page decides offline.
//
// Online, the server limits a device's invalid codes (checkin/scanning/flood.py: a token bucket,
// VARCO_SCAN_INVALID_RATE per second sustained, VARCO_SCAN_INVALID_BURST at once) and answers
// 429 past it, which the page shows as "too many unreadable codes from this scanner". Offline
// there is nobody to ask, so the page keeps the same bucket itself, with the numbers the
// snapshot carries (`invalid_code_limit`: the server's settings stay their one owner). Every
// invalid code the page sees draws on it, answered by the server or decided locally, so a
// flood that makes the server slow (and the page give up waiting) is still called a flood.
// Past it the page says so; the scan is still queued, and the upload's own allowance decides
// what the server logs (`invalid_not_logged`). test/flood_vectors.json (written from the server's
// limiter by tests/checkin/test_flood_vectors.py) holds the two buckets to the same answers.

export class InvalidBudget {
  /** `limit`: {rate, burst} as the snapshot gives it (null/absent or rate 0: no limit). */
  constructor(limit = null, now = () => Date.now()) {
    this.now = now;
    this.configure(limit);
  }

  /** New numbers (a fresh snapshot): what is left of the allowance is kept, within them. */
  configure(limit) {
    const wasLimited = Boolean(this.rate);
    const rate = limit ? Number(limit.rate) : 0;
    this.rate = Number.isFinite(rate) && rate > 0 ? rate : 0;
    this.burst = Math.max(Number(limit && limit.burst) || 1, 1);
    this.tokens = wasLimited ? Math.min(this.tokens, this.burst) : this.burst;
    if (!wasLimited) this.at = this.now();
  }

  /** One invalid code: true if within the allowance, false if the scanner is flooding. */
  take() {
    if (!this.rate) return true;
    const now = this.now();
    const elapsed = Math.max(0, now - this.at) / 1000;
    this.at = Math.max(now, this.at);
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.rate);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** The server refused an invalid code (429): its bucket is empty, so is this one. */
  drain() {
    this.at = Math.max(this.now(), this.at);
    this.tokens = Math.min(this.tokens, 0);
  }
}
