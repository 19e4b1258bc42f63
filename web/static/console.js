// BrandPulse console: live SLA countdowns, and the inbox rows kept current by polling.
// No inline script anywhere (the Content-Security-Policy forbids it); rows arrive as HTML the
// server rendered with every user text escaped.
"use strict";

const POLL_MS = 3000;

function spanText(seconds) {
  const span = Math.abs(seconds);
  if (span >= 3600) {
    const minutes = String(Math.floor((span % 3600) / 60)).padStart(2, "0");
    return `${Math.floor(span / 3600)}h ${minutes}m`;
  }
  if (span >= 60) {
    return `${Math.floor(span / 60)}m ${String(span % 60).padStart(2, "0")}s`;
  }
  return `${span}s`;
}

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll("time.countdown[data-due]")) {
    const due = Date.parse(el.dataset.due);
    if (Number.isNaN(due)) {
      continue;
    }
    const seconds = Math.round((due - now) / 1000);
    el.textContent = seconds > 0 ? `${spanText(seconds)} left` : `breached ${spanText(seconds)} ago`;
    el.classList.toggle("breached", seconds <= 0);
  }
}

async function refreshRows(tbody) {
  try {
    const response = await fetch(tbody.dataset.src, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      redirect: "manual",
    });
    if (response.ok) {
      tbody.innerHTML = await response.text();
      tick();
    }
  } catch (error) {
    // The node restarts or the network hiccups: the next poll tries again.
  }
}

document.addEventListener("DOMContentLoaded", () => {
  tick();
  setInterval(tick, 1000);
  const rows = document.getElementById("rows");
  if (rows && rows.dataset.src) {
    setInterval(() => refreshRows(rows), POLL_MS);
  }
});
