// Bulk badge printing with a progress bar: posts the form asking for application/x-ndjson and
// reads the answer line by line ({"total"}, {"done", "total"}…, then the PDF as base64 in the
// last line; console/badges.py). A file, not an inline script: the CSP. Without this script
// the form posts normally and the server answers the PDF itself.
(function () {
  "use strict";
  const form = document.querySelector("form[data-bulk-badges]");
  if (!form) return;
  const status = document.querySelector(".console-bulk-status");
  const bar = status.querySelector("progress");
  const message = status.querySelector("[data-bulk-message]");
  const link = status.querySelector("[data-bulk-download]");
  const button = form.querySelector("[type=submit]");
  const label = (name, values) => form.dataset["label" + name].replace(
    /%\((\w+)\)s/g, (all, key) => String(values[key]));
  let lastUrl = null;

  function showErrors(fields) {
    for (const old of form.querySelectorAll(".errorlist[data-bulk]")) old.remove();
    for (const [name, errors] of Object.entries(fields || {})) {
      const row = form.querySelector(`[data-field="${name}"]`) || form;
      const list = document.createElement("ul");
      list.className = "errorlist";
      list.dataset.bulk = "";
      for (const error of errors) {
        const item = document.createElement("li");
        item.textContent = error;
        list.append(item);
      }
      row.prepend(list);
    }
  }

  function progress(done, total) {
    bar.max = Math.max(total, 1);
    bar.value = done;
    bar.textContent = String(done);
    message.textContent = label("Drawing", { done, total });
  }

  function finish(last) {
    const bytes = Uint8Array.from(atob(last.pdf), (c) => c.charCodeAt(0));
    if (lastUrl) URL.revokeObjectURL(lastUrl);
    lastUrl = URL.createObjectURL(new Blob([bytes], { type: "application/pdf" }));
    bar.max = Math.max(last.total, 1);
    bar.value = last.total;
    bar.textContent = String(last.total);
    message.textContent = last.count ? label("Done", last) : label("None", last);
    link.href = lastUrl;
    link.download = last.filename;
    link.hidden = !last.count;
    if (last.count) link.click();
  }

  async function run() {
    const answer = await fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/x-ndjson" },
    });
    if (answer.status === 400) {
      const body = await answer.json();
      showErrors(body.fields);
      message.textContent = body.detail;
      return;
    }
    if (!answer.ok || !answer.body) throw new Error(String(answer.status));
    showErrors({});
    const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let last = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buffer += value;
      let end;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = JSON.parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 1);
        if (line.error) { message.textContent = line.error; return; }
        if (line.pdf !== undefined) last = line;
        else progress(line.done || 0, line.total);
      }
      if (done) break;
    }
    if (!last) throw new Error("incomplete");
    finish(last);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.hidden = false;
    link.hidden = true;
    button.disabled = true;
    progress(0, 0);
    try {
      await run();
    } catch (error) {
      message.textContent = label(navigator.onLine ? "Failed" : "Offline", {});
    } finally {
      button.disabled = false;
    }
  });
})();
