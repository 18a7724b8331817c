// roadie dashboard: relative times, confirmations, select-all, live poll and the poll interval.
// Loaded with `defer` on every page; no inline script or event-handler attribute is used,
// so the Content-Security-Policy can forbid them.
(function () {
  "use strict";

  // Polling faster than every 2 s only loads Redis; a value from localStorage
  // is clamped too, because any page on this origin can write it.
  var MIN_INTERVAL_MS = 2000;
  var MAX_INTERVAL_MS = 60000;
  var DEFAULT_INTERVAL_MS = 5000;
  var INTERVAL_KEY = "roadie.pollInterval";
  var LIVE_KEY = "roadie.livePoll";

  function clampInterval(milliseconds) {
    var value = Number(milliseconds);
    if (!isFinite(value) || value <= 0) {
      return DEFAULT_INTERVAL_MS;
    }
    return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Math.round(value)));
  }

  function readStorage(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (error) {
      return null;  // Storage disabled: fall back to the defaults.
    }
  }

  function writeStorage(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (error) {
      // Storage disabled: the setting lasts until the page is left.
    }
  }

  function pollInterval() {
    return clampInterval(readStorage(INTERVAL_KEY));
  }

  function setPollInterval(milliseconds) {
    var value = clampInterval(milliseconds);
    writeStorage(INTERVAL_KEY, String(value));
    return value;
  }

  // ------------------------------------------------------------ relative times

  var UNITS = [[31536000, "year"], [2592000, "month"], [86400, "day"], [3600, "hour"], [60, "minute"], [1, "second"]];

  function relativeText(date, now) {
    var delta = (date.getTime() - now) / 1000;
    var seconds = Math.abs(delta);
    if (seconds < 10) {
      return "just now";
    }
    for (var index = 0; index < UNITS.length; index++) {
      var size = UNITS[index][0];
      if (seconds >= size) {
        var amount = Math.floor(seconds / size);
        var phrase = amount + " " + UNITS[index][1] + (amount === 1 ? "" : "s");
        return delta > 0 ? "in " + phrase : phrase + " ago";
      }
    }
    return "just now";
  }

  function refreshTimes(root) {
    var now = Date.now();
    root.querySelectorAll("time[data-relative]").forEach(function (element) {
      var date = new Date(element.getAttribute("datetime"));
      if (isNaN(date.getTime())) {
        return;
      }
      if (!element.hasAttribute("data-utc")) {
        element.setAttribute("data-utc", element.title);
      }
      element.textContent = relativeText(date, now);
      element.title = date.toLocaleString() + " (" + element.getAttribute("data-utc") + ")";
    });
  }

  // ------------------------------------------------ confirmations and selection

  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-select-all]") || !box.form) {
      return;
    }
    box.form.querySelectorAll("input[type=checkbox][name=key]").forEach(function (checkbox) {
      checkbox.checked = box.checked;
    });
  });

  // ---------------------------------------------------------------- live poll

  var liveTimer = null;

  function userIsSelecting(page) {
    var active = document.activeElement;
    return page.querySelector("input[type=checkbox]:checked") !== null ||
      (active !== null && page.contains(active) && active.tagName === "INPUT");
  }

  function replacePage(html) {
    var page = document.getElementById("page");
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("page");
    if (page === null || fresh === null) {
      return;
    }
    var nodes = Array.prototype.map.call(fresh.childNodes, function (node) {
      return document.importNode(node, true);
    });
    page.replaceChildren.apply(page, nodes);
    refreshTimes(page);
  }

  function pollPage() {
    var page = document.getElementById("page");
    if (page === null || userIsSelecting(page)) {
      scheduleLivePoll();
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) {
          replacePage(html);
        }
      })
      .catch(function () {
        // Network error: keep the page as it is and try again at the next tick.
      })
      .then(scheduleLivePoll);
  }

  function scheduleLivePoll() {
    window.clearTimeout(liveTimer);
    liveTimer = readStorage(LIVE_KEY) === "on" ? window.setTimeout(pollPage, pollInterval()) : null;
  }

  function setupLivePoll() {
    var button = document.querySelector("[data-live-poll]");
    if (button === null) {
      return;
    }
    var on = readStorage(LIVE_KEY) === "on";
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.addEventListener("click", function () {
      on = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", on ? "true" : "false");
      writeStorage(LIVE_KEY, on ? "on" : "off");
      if (on) {
        pollPage();
      } else {
        scheduleLivePoll();
      }
    });
    scheduleLivePoll();
  }

  window.roadie = { pollInterval: pollInterval, setPollInterval: setPollInterval, clampInterval: clampInterval };

  function start() {
    refreshTimes(document);
    window.setInterval(function () { refreshTimes(document); }, 15000);
    setupLivePoll();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
