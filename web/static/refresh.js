// Opt-in auto-refresh (off by default): a checkbox the page renders hidden, shown only when this
// script runs. The choice is remembered for this page in this browser tab (sessionStorage).
(function () {
  "use strict";
  var box = document.getElementById("auto-refresh");
  if (!box) { return; }
  var label = box.closest("label");
  if (label) { label.hidden = false; }
  var key = "tower.autorefresh:" + location.pathname;
  var seconds = parseInt(box.getAttribute("data-seconds"), 10) || 60;
  var timer = null;
  function apply() {
    if (timer) { clearTimeout(timer); timer = null; }
    if (box.checked) { timer = setTimeout(function () { location.reload(); }, seconds * 1000); }
  }
  try { box.checked = sessionStorage.getItem(key) === "on"; } catch (e) { box.checked = false; }
  box.addEventListener("change", function () {
    try { sessionStorage.setItem(key, box.checked ? "on" : "off"); } catch (e) { /* storage blocked */ }
    apply();
  });
  apply();
}());
