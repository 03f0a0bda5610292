// The monitor: Server-Sent Events from /api/v1/stream update the counts and redraw the charts
// (plain SVG built with the DOM) every two seconds, without reloading the page.
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const W = 600, H = 160, PAD = 22;

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function set(id, value) {
  const e = document.getElementById(id);
  if (e) e.textContent = value;
}

const pct = (x) => (x == null ? "—" : (100 * x).toFixed(1) + " %");
const secs = (x) => (x == null ? "—" : x < 10 ? x.toFixed(2) + " s" : x.toFixed(0) + " s");

/// Stacked bars: rows of {label, parts: [[class, value], …]}.
function bars(id, rows) {
  const svg = document.getElementById(id);
  if (!svg) return;
  svg.replaceChildren();
  const max = Math.max(1, ...rows.map((r) => r.parts.reduce((a, [, v]) => a + v, 0)));
  const bw = (W - PAD) / Math.max(1, rows.length);
  rows.forEach((r, i) => {
    let y = H - PAD;
    for (const [cls, v] of r.parts) {
      const h = ((H - 2 * PAD) * v) / max;
      if (h > 0) svg.appendChild(el("rect", { x: PAD + i * bw + 1, y: y - h, width: Math.max(1, bw - 2), height: h, class: cls }));
      y -= h;
    }
    if (r.label && (rows.length <= 12 || i % 10 === 0)) {
      svg.appendChild(el("text", { x: PAD + i * bw + bw / 2, y: H - 6, "text-anchor": "middle", class: "axis" }, r.label));
    }
  });
  svg.appendChild(el("text", { x: 2, y: PAD - 6, class: "axis" }, String(max)));
}

function line(id, values) {
  const svg = document.getElementById(id);
  if (!svg) return;
  svg.replaceChildren();
  const known = values.filter((v) => v != null);
  const max = Math.max(1e-9, ...known);
  const step = (W - PAD) / Math.max(1, values.length - 1);
  let d = "";
  values.forEach((v, i) => {
    if (v == null) return;
    const x = PAD + i * step, y = H - PAD - ((H - 2 * PAD) * v) / max;
    d += (d ? " L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
    svg.appendChild(el("circle", { cx: x, cy: y, r: 2.5, class: "bar" }));
  });
  if (d) svg.appendChild(el("path", { d, class: "line" }));
  svg.appendChild(el("text", { x: 2, y: PAD - 6, class: "axis" }, known.length ? max.toFixed(2) + " s" : "no data"));
}

function render(data) {
  const v = data.verdicts, q = data.queue, m = data.monitor;
  const counts = {
    videos: v.videos, processed: v.processed, harmful: v.harmful, safe: v.safe, failed: v.failed,
    queued: q.depth, "in-flight": q.in_flight, "dead-letters": q.dead_letters,
  };
  for (const [id, n] of Object.entries(counts)) set(id, String(n));
  set("harmful-rate", pct(m.harmful_rate));
  set("throughput", m.throughput_per_min.toFixed(1));
  set("latency-p50", secs(m.latency_p50_s));
  set("latency-p95", secs(m.latency_p95_s));
  set("lag", secs(q.lag_secs));
  set("agreement", pct(m.modality_agreement));
  bars("chart-volume", m.buckets.map((b) => ({
    label: new Date(b.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
    parts: [["bar-harmful", b.harmful], ["bar-safe", b.safe], ["bar-failed", b.failed]],
  })));
  line("chart-latency", m.buckets.map((b) => b.latency_p50_s));
  bars("chart-scores", m.score_histogram.map((n, i) => ({ label: (i / 10).toFixed(1), parts: [["bar", n]] })));
  bars("chart-categories", Object.entries(m.categories).map(([c, n]) => ({ label: c, parts: [["bar-harmful", n]] })));
}

/// The latest verdicts table, rebuilt from /api/v1/verdicts/latest (text only).
async function refreshTable() {
  const r = await fetch("/api/v1/verdicts/latest?limit=50", { credentials: "same-origin" });
  if (!r.ok) return;
  const rows = await r.json();
  const body = document.querySelector("table tbody");
  if (!body) return;
  body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement("tr");
    const cell = (text, cls) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.appendChild(td);
      return td;
    };
    cell(row.decided_at);
    const link = document.createElement("a");
    link.href = "/videos/" + encodeURIComponent(row.video_id);
    link.textContent = row.video_id;
    cell("").appendChild(link);
    cell(row.label, row.label);
    cell(row.harmful_score == null ? "—" : row.harmful_score.toFixed(2));
    cell((row.caption ?? "").slice(0, 140));
    cell(row.reason ?? row.top_evidence ?? "");
    body.appendChild(tr);
  }
}

let lastProcessed = -1;
document.addEventListener("DOMContentLoaded", () => {
  const source = new EventSource("/api/v1/stream");
  source.addEventListener("stats", (ev) => {
    const data = JSON.parse(ev.data);
    if (data.error) return;
    render(data);
    if (data.verdicts.processed !== lastProcessed) {
      lastProcessed = data.verdicts.processed;
      refreshTable().catch(() => {});
    }
  });
});
