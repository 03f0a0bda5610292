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
  if (!claimed.ok) { $("status").textContent = "Cannot claim: " + (await claimed.text()); return; }
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

async function decide(decision) {
  if (!current) return;
  const categories = decision === "harmful"
    ? [...document.querySelectorAll('input[name="category"]:checked')].map((b) => b.value) : [];
  const response = await api("POST", "/api/v1/videos/" + encodeURIComponent(current.video_id) + "/reviews",
    { decision, categories, note: $("note").value });
  if (!response.ok) { $("status").textContent = "Not saved: " + (await response.text()); return; }
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
