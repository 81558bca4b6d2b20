// Live attendance dashboard: renders the payload the server pushes (Server-Sent Events) or
// that the page polls for when a stream is refused or breaks. No library: the chart arrives as
// server-rendered SVG, every other part is a few DOM writes with textContent.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const L = config.labels;
  const lang = document.documentElement.lang || "it";
  const number = new Intl.NumberFormat(lang);
  const clock = new Intl.DateTimeFormat(lang, {
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    timeZone: config.timezone,
  });
  const POLL_MS = 1000;
  const SSE_RETRY_MS = 60000;
  const $ = (id) => document.getElementById(id);
  let etag = null;
  let latest = null;
  let source = null;
  let pollTimer = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key === "style") node.style.cssText = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function setFigure(name, value) {
    for (const node of document.querySelectorAll(`[data-figure="${name}"]`)) {
      node.textContent = value;
    }
  }

  function time(iso) {
    return iso ? clock.format(new Date(iso)) : "";
  }

  function render(payload) {
    latest = payload;
    etag = payload.etag;
    const a = payload.attendance;
    setFigure("checked_in", number.format(a.checked_in));
    setFigure("inside", number.format(a.inside));
    setFigure("registered", number.format(a.registered));
    setFigure("no_shows", number.format(a.no_shows));
    const rejected = Object.values(a.rejected).reduce((s, n) => s + n, 0);
    setFigure("rejected", number.format(rejected));
    setFigure("conflicts", number.format(a.conflicts.count));
    const pct = a.registered ? Math.round((100 * a.checked_in) / a.registered) : 0;
    setFigure("percent", `${pct}%`);
    $("as-of").textContent = time(a.as_of);
    $("as-of").setAttribute("datetime", a.as_of);
    $("chart").innerHTML = payload.chart;
    $("chart-phone").innerHTML = payload.chart_phone;
    renderRehearsal(a.arrivals.rehearsal);
    const outside = $("outside");
    outside.hidden = !a.arrivals.outside;
    outside.textContent = `${L.outside} ${number.format(a.arrivals.outside)}`;
    renderFeed(payload.feed);
    renderGates(a.by_gate);
    renderReasons(a.rejected);
    renderConflicts(a.conflicts.recent);
    renderTypes(a.by_ticket_type);
    renderOrgs(a.by_organisation);
  }

  // The chart shows another day's scans while the event's day has none (server: snapshots.py).
  const day = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeZone: "UTC" });

  function renderRehearsal(date) {
    const note = $("rehearsal");
    note.hidden = !date;
    note.textContent = date ? L.rehearsal.replace("%(day)s", day.format(new Date(date))) : "";
  }

  function renderFeed(items) {
    const list = $("feed");
    list.replaceChildren();
    if (!items.length) list.append(el("li", { class: "empty" }, L.none));
    for (const item of items) {
      const rejected = item.result === "rejected";
      const classes = ["scan", rejected ? "rejected" : "ok"];
      if (item.conflict) classes.push("conflict");
      if (item.annulled) classes.push("annulled");
      if (item.direction === "annul") classes.push("undo");
      let verdict = rejected ? (L.reason[item.reason] || item.reason) : L.ok;
      if (item.direction !== "entry") verdict = `${L.direction[item.direction]} · ${verdict}`;
      if (item.conflict) verdict += ` · ${L.conflict}`;
      if (item.annulled) verdict += ` · ${L.annulled}`;
      const who = item.name
        ? el("span", { class: "who" }, item.name,
          item.organisation ? el("small", {}, item.organisation) : null)
        : el("span", { class: "who unknown" }, L.unknown_person);
      const where = item.device_id === null ? L.manual : (item.gate || "");
      const meta = [where, item.source !== "scan" ? L.source[item.source] : null]
        .filter(Boolean).join(" · ");
      list.append(el("li", { class: classes.join(" "), "data-scan": item.id },
        el("time", { datetime: item.scanned_at }, time(item.scanned_at)),
        who,
        el("span", { class: "verdict" }, verdict),
        el("span", { class: "where" }, meta)));
    }
  }

  function spark(values) {
    const top = Math.max(1, ...values);
    const box = el("span", { class: "spark", "aria-hidden": "true" });
    for (const v of values) {
      box.append(el("i", { style: `height:${Math.round((100 * v) / top)}%`, title: v }));
    }
    return box;
  }

  function renderGates(gates) {
    const body = $("gates");
    body.replaceChildren();
    if (!gates.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "empty" }, L.none)));
    for (const g of gates) {
      body.append(el("tr", {},
        el("th", { scope: "row" }, g.gate === null ? L.manual : g.gate,
          el("small", {}, g.devices.map((d) => d.name || L.manual).join(", "))),
        el("td", { class: "pace" }, `${number.format(g.last_minute)}${L.per_minute}`),
        el("td", { class: "spark-col" }, spark(g.per_minute)),
        el("td", { class: "num" }, number.format(g.entries)),
        el("td", { class: "num" }, number.format(g.exits)),
        el("td", { class: "num" + (g.rejected ? " bad" : "") }, number.format(g.rejected))));
    }
  }

  function renderReasons(rejected) {
    const list = $("rejected");
    list.replaceChildren();
    const entries = Object.entries(rejected).filter(([, n]) => n > 0).sort((x, y) => y[1] - x[1]);
    if (!entries.length) list.append(el("li", { class: "empty" }, L.none));
    for (const [reason, n] of entries) {
      list.append(el("li", {}, el("span", {}, L.reason[reason] || reason),
        el("strong", {}, number.format(n))));
    }
  }

  function renderConflicts(items) {
    const list = $("conflicts");
    list.replaceChildren();
    if (!items.length) list.append(el("li", { class: "empty" }, L.none));
    for (const c of items) {
      list.append(el("li", {},
        el("time", { datetime: c.scanned_at }, time(c.scanned_at)), " ",
        el("strong", {}, c.name || "?"), c.organisation ? ` (${c.organisation})` : "",
        ` · ${c.gate || ""} · ${time(c.first_checked_in_at)}`));
    }
  }

  function renderTypes(types) {
    const body = $("types");
    body.replaceChildren();
    for (const t of types) {
      body.append(el("tr", {},
        el("th", { scope: "row" }, (t.name_i18n && t.name_i18n[lang]) || t.name),
        el("td", { class: "num" }, number.format(t.checked_in)),
        el("td", { class: "num" }, number.format(t.inside)),
        el("td", { class: "num" }, number.format(t.registered))));
    }
  }

  function renderOrgs(orgs) {
    const needle = $("org-filter").value.trim().toLocaleLowerCase(lang);
    const body = $("orgs");
    const rows = [];
    let shown = 0;
    for (const o of orgs) {
      if (needle && !o.organisation.toLocaleLowerCase(lang).includes(needle)) continue;
      shown += 1;
      const pct = o.registered ? Math.round((100 * o.checked_in) / o.registered) : 0;
      rows.push(el("tr", { class: o.checked_in ? "" : "none-here" },
        el("th", { scope: "row" }, o.organisation || "—"),
        el("td", { class: "num" }, number.format(o.checked_in)),
        el("td", { class: "num" }, number.format(o.inside)),
        el("td", { class: "num" }, number.format(o.registered)),
        el("td", { class: "bar-col" },
          // role "img": a plain span may not carry a label (axe: aria-prohibited-attr).
          el("span", { class: "bar", role: "img", "aria-label": `${pct}%` },
            el("i", { style: `width:${pct}%` })))));
    }
    body.replaceChildren(...rows);
    $("org-count").textContent = `(${number.format(shown)})`;
  }

  function setStatus(state) {
    const pill = $("status");
    if (pill.dataset.state === state) return; // (a live region: say it once)
    pill.dataset.state = state;
    pill.textContent = L[state] || state;
  }

  // --- transport: a stream when the server grants one, polling otherwise ----------------------

  function startPolling() {
    if (pollTimer !== null) return;
    const tick = async () => {
      try {
        const url = config.urls.live + (etag ? `?since=${encodeURIComponent(etag)}` : "");
        const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        if (response.ok) {
          const data = await response.json();
          if (!data.unchanged) render(data);
          if (source === null) setStatus("polling");
        } else {
          setStatus("offline");
        }
      } catch (err) {
        setStatus("offline");
      }
      if (pollTimer !== null) pollTimer = setTimeout(tick, POLL_MS);
    };
    pollTimer = setTimeout(tick, 0);
  }

  function stopPolling() {
    if (pollTimer !== null) clearTimeout(pollTimer);
    pollTimer = null;
  }

  function startStream() {
    if (!window.EventSource) {
      startPolling();
      return;
    }
    source = new EventSource(config.urls.stream);
    source.onopen = () => {
      stopPolling();
      setStatus("live");
    };
    source.onmessage = (event) => {
      render(JSON.parse(event.data));
      setStatus("live");
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (this server's streams are all taken) or not a stream: poll, try later.
        source = null;
        setStatus("polling");
        startPolling();
        setTimeout(startStream, SSE_RETRY_MS);
      } else {
        // The stream ended (streams are bounded in time) or broke; EventSource reconnects by
        // itself. Poll meanwhile: a failing poll is what shows the connection as lost.
        startPolling();
      }
    };
  }

  $("org-filter").addEventListener("input", () => latest && renderOrgs(latest.attendance.by_organisation));
  render(JSON.parse(document.getElementById("dashboard-initial").textContent));
  startStream();
})();
