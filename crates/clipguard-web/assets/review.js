// The review queue: claim the next item, show it, decide with h / s, move on with n.
// Everything from the server is set with textContent: captions are hostile input.
"use strict";
let current = null;
const $ = (id) => document.getElementById(id);

async function next() {
  current = null;
  $("item").hidden = true;
  $("status").textContent = "Claiming the next item…";
  const claimed = await api("POST", "/api/v1/reviews/claim");
  if (claimed.status === 204) { $("status").textContent = "The queue is empty."; return; }
  if (!claimed.ok) {
    const reply = await claimed.json().catch(() => ({}));
    $("status").textContent = "Cannot claim: " + (reply.error ?? claimed.statusText);
    if (claimed.status === 403) await showQueue();
    return;
  }
  const item = await claimed.json();
  const detail = await (await fetch("/api/v1/videos/" + encodeURIComponent(item.video_id))).json();
  current = item;
  $("video-id").textContent = item.video_id;
  $("score").textContent = item.harmful_score.toFixed(2);
  $("reason").textContent = item.reason;
  $("caption").textContent = detail.video?.caption ?? "";
  const list = $("evidence");
  list.replaceChildren();
  for (const e of (detail.verdict?.evidence ?? []).slice(0, 12)) {
    const li = document.createElement("li");
    li.textContent = `${e.modality}${e.time_s != null ? " @" + e.time_s.toFixed(1) + "s" : ""}: ${e.excerpt}`;
    list.appendChild(li);
  }
  for (const box of document.querySelectorAll('input[name="category"]')) box.checked = false;
  $("note").value = "";
  $("status").textContent = "";
  $("item").hidden = false;
}

/// Read-only: the queue as links (for viewers, who cannot claim).
async function showQueue() {
  const r = await fetch("/api/v1/reviews/queue?limit=100", { credentials: "same-origin" });
  if (!r.ok) return;
  const list = document.createElement("ol");
  list.id = "queue";
  for (const item of await r.json()) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "/videos/" + encodeURIComponent(item.video_id);
    a.textContent = item.video_id;
    li.append(a, ` ${item.harmful_score.toFixed(2)} (${item.reason}) ${(item.caption ?? "").slice(0, 100)}`);
    list.appendChild(li);
  }
  $("status").after(list);
}

async function decide(decision) {
  if (!current) return;
  const categories = decision === "harmful"
    ? [...document.querySelectorAll('input[name="category"]:checked')].map((b) => b.value) : [];
  const response = await api("POST", "/api/v1/videos/" + encodeURIComponent(current.video_id) + "/reviews",
    { decision, categories, note: $("note").value });
  if (!response.ok) {
    const reply = await response.json().catch(() => ({}));
    $("status").textContent = "Not saved: " + (reply.error ?? response.statusText);
    return;
  }
  $("status").textContent = `Saved: ${current.video_id} is ${decision}.`;
  await next();
}

document.addEventListener("DOMContentLoaded", () => {
  $("harmful").addEventListener("click", () => decide("harmful"));
  $("safe").addEventListener("click", () => decide("safe"));
  $("next").addEventListener("click", next);
  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement && ev.target.type !== "checkbox") return;
    if (ev.key === "h") decide("harmful");
    else if (ev.key === "s") decide("safe");
    else if (ev.key === "n") next();
  });
  next();
});
