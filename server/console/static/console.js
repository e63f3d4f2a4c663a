// Varde console: live updates by Server-Sent Events, with polling as the fallback (the rows also refresh every
// 30 s by themselves). No inline script anywhere: the Content-Security-Policy allows only this file and htmx.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');
  document.body.addEventListener("htmx:configRequest", function (e) {
    if (csrf && csrf.content) { e.detail.headers["X-CSRF-Token"] = csrf.content; }
  });

  var state = document.getElementById("live-state");
  if (!state) { return; }
  var announce = document.getElementById("announce");
  var lastUpdated = null;
  var pending = false;
  var inflight = false;
  var again = false;

  function rows() { return document.getElementById("flag-rows"); }
  function rememberUpdate() {
    var r = rows();
    if (r && r.dataset.updated) { lastUpdated = r.dataset.updated; }
  }
  function setLive() {
    state.textContent = state.dataset.live;
    state.classList.remove("stale");
    var r = rows(); if (r) { r.classList.remove("stale"); }
  }
  function setStale() {
    state.textContent = state.dataset.stale.replace("{time}", lastUpdated || "–");
    state.classList.add("stale");
    var r = rows(); if (r) { r.classList.add("stale"); }
  }
  function refresh() {
    var r = rows();
    if (!r || !window.htmx) { return; }
    // never pull the table away from under a coordinator's keyboard focus; refresh when focus leaves it
    if (r.contains(document.activeElement) && document.activeElement !== document.body) { pending = true; return; }
    pending = false;
    // htmx drops a request for an element that already has one in flight: a change announced meanwhile would be
    // lost, so ask again when the current one is done
    if (inflight) { again = true; return; }
    inflight = true;
    var done = function () {
      inflight = false;
      rememberUpdate();
      if (source && source.readyState === 1) { setLive(); } else if (state.classList.contains("stale")) { setStale(); }
      if (again) { again = false; refresh(); }
    };
    window.htmx.ajax("GET", r.getAttribute("hx-get"), { target: "#flag-rows", swap: "outerHTML" }).then(done, done);
  }
  document.addEventListener("focusout", function () {
    if (pending) { window.setTimeout(function () { if (pending) { refresh(); } }, 50); }
  });
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "flag-rows" || (e.detail.elt && e.detail.elt.id === "flag-rows")) {
      rememberUpdate();
      if (source && source.readyState === 1) { setLive(); } else if (state.classList.contains("stale")) { setStale(); }
    }
  });
  document.body.addEventListener("htmx:responseError", function () { setStale(); });
  document.body.addEventListener("htmx:sendError", function () { setStale(); });

  rememberUpdate();
  var source = null;
  if (!window.EventSource) { return; }  // htmx's 30 s polling is the fallback
  source = new EventSource("/events");
  source.addEventListener("open", function () { setLive(); refresh(); });
  source.addEventListener("hello", function () { setLive(); });
  source.addEventListener("flags", function (e) {
    var news = {};
    try { news = JSON.parse(e.data); } catch (err) { news = {}; }
    refresh();
    if (news.high > 0 && announce) {
      announce.textContent = "";
      window.setTimeout(function () { announce.textContent = announce.dataset.high; }, 100);
    }
  });
  source.addEventListener("error", function () { setStale(); });
})();
