// The pipeline page: admins retry or discard dead letters.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const result = document.getElementById("result");
  for (const [cls, verb] of [["retry", "retry"], ["discard", "discard"]]) {
    for (const b of document.querySelectorAll("button." + cls)) {
      b.addEventListener("click", async () => {
        const r = await api("POST", `/api/v1/dead-letters/${encodeURIComponent(b.dataset.id)}/${verb}`, {});
        result.textContent = r.ok ? `${verb}: done` : "failed: " + (await r.text());
        if (r.ok) document.getElementById("dead-" + b.dataset.id)?.remove();
      });
    }
  }
});
