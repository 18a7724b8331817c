// roadie dashboard page: the realtime chart (polls /stats) and the history chart.
(function () {
  "use strict";

  var MAX_POINTS = 60;
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var styles = window.getComputedStyle(document.documentElement);
  var colors = {
    processed: styles.getPropertyValue("--processed").trim(),
    failed: styles.getPropertyValue("--failed").trim(),
    line: styles.getPropertyValue("--line").trim(),
    muted: styles.getPropertyValue("--muted").trim()
  };

  Chart.defaults.color = colors.muted;
  Chart.defaults.borderColor = colors.line;
  Chart.defaults.font.family = "system-ui, sans-serif";

  function dataset(label, color, values) {
    return {
      label: label, data: values, borderColor: color, backgroundColor: color,
      borderWidth: 2, pointRadius: 0, pointHitRadius: 8, tension: 0.25
    };
  }

  function lineChart(canvas, labels, processed, failed) {
    return new Chart(canvas, {
      type: "line",
      data: { labels: labels, datasets: [dataset("Processed", colors.processed, processed), dataset("Failed", colors.failed, failed)] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 10 } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }

  var history = data.history;
  lineChart(document.getElementById("history-chart"), history.labels, history.processed, history.failed);

  var realtime = lineChart(document.getElementById("realtime-chart"), [], [], []);
  var previous = data.initial;
  var timer = null;

  function showCounters(counters) {
    document.querySelectorAll("[data-stat]").forEach(function (element) {
      var value = counters[element.getAttribute("data-stat")];
      if (typeof value === "number") {
        element.textContent = value.toLocaleString("en-US");
      }
    });
  }

  function addPoint(counters) {
    var chartData = realtime.data;
    chartData.labels.push(new Date().toLocaleTimeString());
    chartData.datasets[0].data.push(Math.max(0, counters.processed - previous.processed));
    chartData.datasets[1].data.push(Math.max(0, counters.failed - previous.failed));
    if (chartData.labels.length > MAX_POINTS) {
      chartData.labels.shift();
      chartData.datasets.forEach(function (set) { set.data.shift(); });
    }
    realtime.update("none");
    previous = counters;
  }

  function poll() {
    fetch(data.statsUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        if (body !== null && body.sidekiq) {
          showCounters(body.sidekiq);
          addPoint(body.sidekiq);
        }
      })
      .catch(function () {
        // Network error: skip this point and try again at the next tick.
      })
      .then(schedule);
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, window.roadie.pollInterval());
  }

  var slider = document.getElementById("poll-interval");
  var shown = document.getElementById("poll-interval-value");
  function showInterval(milliseconds) {
    slider.value = String(milliseconds / 1000);
    shown.textContent = (milliseconds / 1000) + " s";
  }
  showInterval(window.roadie.pollInterval());
  slider.addEventListener("input", function () {
    shown.textContent = slider.value + " s";
  });
  slider.addEventListener("change", function () {
    showInterval(window.roadie.setPollInterval(Number(slider.value) * 1000));
    schedule();
  });

  schedule();
})();
