// The monitor's counts, refreshed every 2 s without reloading the page.
"use strict";
const cards = {
  videos: (s) => s.verdicts.videos, processed: (s) => s.verdicts.processed,
  harmful: (s) => s.verdicts.harmful, safe: (s) => s.verdicts.safe,
  failed: (s) => s.verdicts.failed, queued: (s) => s.queue.depth,
  "in-flight": (s) => s.queue.in_flight, "dead-letters": (s) => s.queue.dead_letters,
};
async function refresh() {
  try {
    const response = await fetch("/api/v1/stats", { credentials: "same-origin" });
    if (!response.ok) return;
    const stats = await response.json();
    for (const [id, get] of Object.entries(cards)) {
      const el = document.getElementById(id);
      if (el) el.textContent = String(get(stats));
    }
  } catch (_) { /* the next tick retries */ }
}
setInterval(refresh, 2000);
