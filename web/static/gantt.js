// Zoom and pan for the order timeline's hop chart. Without this script the chart is drawn whole
// (and scrolls sideways inside its box on small screens). Zoom widens the chart inside its scroll
// box (buttons, or Ctrl + mouse wheel); pan by dragging or scrolling the box.
(function () {
  "use strict";
  var wrap = document.querySelector(".gantt-wrap");
  var svg = wrap && wrap.querySelector("svg.gantt");
  if (!svg) { return; }
  var help = document.querySelector(".gantt-help");
  if (help) { help.hidden = false; }
  var zoom = 1;
  var bar = document.createElement("div");
  bar.className = "gantt-zoom";
  bar.setAttribute("role", "toolbar");
  bar.setAttribute("aria-label", "Zoom the hop chart");
  var level = document.createElement("span");
  level.className = "hint";
  level.setAttribute("aria-live", "polite");
  function button(text, label, action) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = text;
    if (label) { b.setAttribute("aria-label", label); }
    b.addEventListener("click", action);
    bar.appendChild(b);
    return b;
  }
  function baseWidth() {
    var old = svg.style.width;
    var cls = wrap.classList.contains("zoomed");
    svg.style.width = "";
    wrap.classList.remove("zoomed");
    var width = svg.getBoundingClientRect().width;
    svg.style.width = old;
    wrap.classList.toggle("zoomed", cls);
    return width;
  }
  function setZoom(next, anchor) {
    next = Math.max(1, Math.min(16, next));
    var at = anchor === undefined ? wrap.clientWidth / 2 : anchor;
    var ratio = (wrap.scrollLeft + at) / Math.max(svg.getBoundingClientRect().width, 1);
    zoom = next;
    wrap.classList.toggle("zoomed", zoom > 1);
    svg.style.width = zoom > 1 ? (baseWidth() * zoom) + "px" : "";
    wrap.scrollLeft = ratio * svg.getBoundingClientRect().width - at;
    level.textContent = zoom > 1 ? "zoom " + zoom + "×" : "whole order";
  }
  button("+", "Zoom in", function () { setZoom(zoom * 2); });
  button("−", "Zoom out", function () { setZoom(zoom / 2); });
  button("◀", "Pan left", function () { wrap.scrollLeft -= wrap.clientWidth * 0.5; });
  button("▶", "Pan right", function () { wrap.scrollLeft += wrap.clientWidth * 0.5; });
  button("Reset zoom", "", function () { setZoom(1); wrap.scrollLeft = 0; });
  bar.appendChild(level);
  wrap.parentNode.insertBefore(bar, wrap);
  setZoom(1);
  wrap.addEventListener("wheel", function (event) {
    if (!event.ctrlKey) { return; }
    event.preventDefault();
    var rect = wrap.getBoundingClientRect();
    setZoom(event.deltaY < 0 ? zoom * 1.25 : zoom / 1.25, event.clientX - rect.left);
  }, { passive: false });
  var dragX = null;
  var startScroll = 0;
  wrap.addEventListener("pointerdown", function (event) {
    if (zoom <= 1 || event.target.closest("a")) { return; }
    dragX = event.clientX;
    startScroll = wrap.scrollLeft;
    wrap.classList.add("dragging");
  });
  window.addEventListener("pointermove", function (event) {
    if (dragX !== null) { wrap.scrollLeft = startScroll - (event.clientX - dragX); }
  });
  window.addEventListener("pointerup", function () {
    dragX = null;
    wrap.classList.remove("dragging");
  });
}());
