// The event home's live numbers: polls figures.json and updates each [data-figure] in place
// (sending all unsent tickets shows its progress here). A file, not an inline script: the CSP.
(function () {
  "use strict";
  const root = document.querySelector("[data-figures-url]");
  if (!root) return;
  const url = root.dataset.figuresUrl;
  const bar = root.querySelector(".console-progress");
  async function refresh() {
    try {
      const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!answer.ok) return;
      const figures = await answer.json();
      for (const node of root.querySelectorAll("[data-figure]")) {
        const value = figures[node.dataset.figure];
        if (value !== undefined && node.textContent !== String(value)) node.textContent = String(value);
      }
      if (bar) { bar.max = figures.valid || 1; bar.value = figures.sent; bar.textContent = String(figures.sent); }
    } catch (error) { /* offline for a moment: the next poll tries again */ }
  }
  setInterval(refresh, 2000);
})();
