// Calls to the door API with a device token. A network failure or timeout raises Offline;
// an HTTP answer (any status) is returned, so callers decide what 401/403/400 mean.
export class Offline extends Error {}

export class Api {
  constructor(token) {
    this.token = token;
  }

  async request(method, path, body, timeoutMs = 3000) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetch(path, {
        method,
        headers: {
          Authorization: `Token ${this.token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
        cache: "no-store",
      });
      let data = null;
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
      if (response.status >= 500) throw new Offline(`HTTP ${response.status}`);
      return { status: response.status, data };
    } catch (error) {
      if (error instanceof Offline) throw error;
      throw new Offline(String(error));
    } finally {
      clearTimeout(timer);
    }
  }

  get(path, timeoutMs) {
    return this.request("GET", path, undefined, timeoutMs);
  }

  post(path, body, timeoutMs) {
    return this.request("POST", path, body, timeoutMs);
  }
}

export function newNonce() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
