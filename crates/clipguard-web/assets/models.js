// The models page: admins promote a version through the gate or roll the champion back.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const result = document.getElementById("result");
  async function act(path, body) {
    const r = await api("POST", path, body);
    const text = await r.text();
    let shown = text;
    try { const d = JSON.parse(text); shown = d.error ?? `${d.action}: ${d.reason}`; } catch (_) {}
    result.textContent = shown;
    if (r.ok) setTimeout(() => location.reload(), 800);
  }
  for (const b of document.querySelectorAll("button.promote")) {
    b.addEventListener("click", () =>
      act(`/api/v1/models/${encodeURIComponent(b.dataset.model)}/promote`, { version: b.dataset.version }));
  }
  document.getElementById("retrain")?.addEventListener("click", async () => {
    const r = await api("POST", "/api/v1/retrain", {});
    result.textContent = r.ok ? "Retraining requested." : "failed: " + (await r.text());
  });
  for (const b of document.querySelectorAll("button.rollback")) {
    b.addEventListener("click", () => act(`/api/v1/models/${encodeURIComponent(b.dataset.model)}/rollback`, {}));
  }
});
