// Shared by every signed-in page: the CSRF token and a fetch wrapper that sends it.
"use strict";
const csrf = document.querySelector('meta[name="csrf"]')?.content ?? "";
async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  return response;
}
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout")?.addEventListener("click", async () => {
    await api("POST", "/logout");
    location.href = "/login";
  });
});
// Dates arrive in UTC; show them in the viewer's time zone and language. The language toggle
// sets the `lang` cookie the server reads.
document.addEventListener("DOMContentLoaded", () => {
  const lang = document.documentElement.lang || undefined;
  for (const el of document.querySelectorAll("time[datetime]")) {
    const d = new Date(el.dateTime);
    if (!Number.isNaN(d.getTime())) {
      el.title = el.dateTime;
      el.textContent = d.toLocaleString(lang);
    }
  }
  document.getElementById("lang")?.addEventListener("click", (ev) => {
    document.cookie = "lang=" + ev.currentTarget.dataset.lang + "; path=/; SameSite=Strict";
    location.reload();
  });
});
