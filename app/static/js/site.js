// Fills the request-info panel from the JSON endpoint: shows what the app sees of the client
// (address and scheme) once nginx has forwarded the request.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const panel = document.getElementById("request-info");
  if (!panel) {
    return;
  }
  try {
    const response = await fetch("/api/request-info", { headers: { Accept: "application/json" } });
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    const info = await response.json();
    for (const field of panel.querySelectorAll("[data-field]")) {
      field.textContent = info[field.dataset.field] ?? "—";
    }
  } catch (error) {
    panel.dataset.error = String(error);
  }
});
