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
