// Optional: open the collapsed month that holds a linked card (the page works without this).
function openTarget() {
  var id = "";
  try { id = decodeURIComponent(location.hash.slice(1)); } catch (e) { return; }
  for (var el = id && document.getElementById(id); el; el = el.parentElement) {
    if (el.tagName === "DETAILS") { el.open = true; }
  }
}
window.addEventListener("hashchange", openTarget);
openTarget();
