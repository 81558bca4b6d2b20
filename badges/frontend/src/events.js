// Server-sent events read with fetch(), because EventSource cannot send the station's
// `Authorization: Token …` header (and a token in the URL would land in server logs).
// Parses the text/event-stream format (event:, data:, id:, retry:, comments) line by line.

/** Parse SSE text into events; returns the unparsed tail. Calls onEvent({event, data, id}). */
export function parseEvents(buffer, onEvent) {
  let start = 0;
  for (;;) {
    const end = buffer.indexOf("\n\n", start);
    if (end < 0) return buffer.slice(start);
    const block = buffer.slice(start, end);
    start = end + 2;
    const message = { event: "message", data: [], id: null };
    for (const raw of block.split("\n")) {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") message.event = value;
      else if (field === "data") message.data.push(value);
      else if (field === "id") message.id = value;
    }
    if (message.data.length || message.event !== "message") {
      onEvent({ event: message.event, data: message.data.join("\n"), id: message.id });
    }
  }
}

/**
 * Read the stream at `url` until it ends or `signal` aborts. Resolves with the HTTP status
 * when the server refuses (not 200) or the stream ends; rejects on a network failure.
 * `onOpen()` is called once the server has answered 200.
 */
export async function readStream(url, token, { onOpen, onEvent, signal }) {
  const response = await fetch(url, {
    headers: { Authorization: `Token ${token}`, Accept: "text/event-stream" },
    cache: "no-store",
    signal,
  });
  if (response.status !== 200 || !response.body) return response.status;
  onOpen();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return 200;
    buffer = parseEvents((buffer + value).replace(/\r\n/g, "\n"), onEvent);
  }
}
