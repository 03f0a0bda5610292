// The video page: evidence and transcript lines seek the player; reviewers decide with h / s.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const player = document.getElementById("player");
  for (const b of document.querySelectorAll(".seek")) {
    b.addEventListener("click", () => {
      if (player) { player.currentTime = Number(b.dataset.t); player.play().catch(() => {}); }
    });
  }
  const id = document.getElementById("video-id").dataset.id;
  async function decide(decision) {
    const note = document.getElementById("note")?.value ?? "";
    const r = await api("POST", "/api/v1/videos/" + encodeURIComponent(id) + "/reviews", { decision, note });
    document.getElementById("status").textContent = r.ok ? "Saved." : "Not saved: " + (await r.text());
    if (r.ok) location.reload();
  }
  const harmful = document.getElementById("harmful");
  if (!harmful) return;
  harmful.addEventListener("click", () => decide("harmful"));
  document.getElementById("safe").addEventListener("click", () => decide("safe"));
  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement) return;
    if (ev.key === "h") decide("harmful");
    else if (ev.key === "s") decide("safe");
  });
});
