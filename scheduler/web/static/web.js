// Keeps Now current: polls /now.json every second and redraws the live part when the ledger changed.
// A pause made anywhere (the CLI, another browser) shows within two seconds. The page works without it.
(function () {
  "use strict";

  function fillBars(root) {
    // The CSP allows no inline styles, so the length bars of the preview's cards get their width here.
    var bars = root.querySelectorAll("[data-fill]");
    for (var i = 0; i < bars.length; i++) {
      bars[i].style.width = Math.min(100, parseInt(bars[i].getAttribute("data-fill"), 10) || 0) + "%";
    }
  }

  function busy(live) {
    // Never redraw under someone's hands: an open confirmation, or a field being typed in.
    if (live.querySelector("details[open]")) { return true; }
    var active = document.activeElement;
    if (active && live.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) { return true; }
    var fields = live.querySelectorAll("input:not([type=hidden])");
    for (var i = 0; i < fields.length; i++) { if (fields[i].value) { return true; } }
    return false;
  }

  function showPauses(lines) {
    var state = document.getElementById("pause-state");
    if (!state || !lines) { return; }
    var text = lines.join("\n");
    if (state.getAttribute("data-lines") === text) { return; }
    state.setAttribute("data-lines", text);
    state.textContent = lines.length ? "" : state.getAttribute("data-sending");
    for (var i = 0; i < lines.length; i++) {
      var span = document.createElement("span");
      span.className = "line";
      span.textContent = lines[i];
      state.appendChild(span);
    }
    state.parentElement.classList.toggle("paused", lines.length > 0);
  }

  function lost() {
    if (document.querySelector(".live-lost")) { return; }
    var note = document.createElement("p");
    note.className = "live-lost";
    note.setAttribute("role", "alert");
    var live = document.getElementById("live");
    note.textContent = (live && live.getAttribute("data-lost")) || "The page lost its connection; reload it.";
    document.body.insertBefore(note, document.body.firstChild);
  }

  function poll() {
    var live = document.getElementById("live");
    if (!live) { return; }
    fetch("/now.json", {credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (data.mark === live.getAttribute("data-mark")) { return null; }
        if (busy(live)) {
          showPauses(data.paused);
          return null;
        }
        return fetch("/now/live", {credentials: "same-origin", cache: "no-store"}).then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.text();
        }).then(function (html) {
          if (busy(live)) { return; }
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#live");
          if (fresh) { live.replaceWith(fresh); }
        });
      })
      .catch(lost)
      .then(function () { window.setTimeout(poll, 1000); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    fillBars(document);
    if (document.getElementById("live")) { window.setTimeout(poll, 1000); }
  });
})();
