// Rules and thresholds: admins check and save a new version; the server answers with what it
// understood (or why it refused).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const result = document.getElementById("result");
  for (const b of document.querySelectorAll("button.save")) {
    b.addEventListener("click", async () => {
      const kind = b.dataset.kind;
      const r = await api("POST", "/api/v1/settings/" + kind, {
        body: document.getElementById(kind + "-body").value,
        note: document.getElementById(kind + "-note").value,
      });
      const reply = await r.json().catch(() => ({}));
      result.textContent = r.ok ? `Saved ${kind} #${reply.id}: ${reply.summary}` : (reply.error ?? "not saved");
      if (r.ok) setTimeout(() => location.reload(), 800);
    });
  }
});
