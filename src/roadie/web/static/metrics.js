// roadie metrics pages: a line chart of runs per time bucket and, on a job's page, its run-time histogram.
// The data comes from the JSON in #metrics-data; no inline script is used.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("metrics-data").textContent);
  var styles = window.getComputedStyle(document.documentElement);
  function color(name) {
    return styles.getPropertyValue("--" + name).trim();
  }
  // Line colors of the jobs on the metrics page, in table order.
  var palette = ["#2457c5", "#e07b00", "#2e7d32", "#8e24aa", "#c62828", "#00838f", "#6d4c41"];

  Chart.defaults.color = color("muted");
  Chart.defaults.borderColor = color("line");
  Chart.defaults.font.family = "system-ui, sans-serif";

  var lineCanvas = document.getElementById("metrics-chart");
  if (lineCanvas !== null) {
    var datasets = data.lines.map(function (line, index) {
      var lineColor = line.color ? color(line.color) : palette[index % palette.length];
      return {
        label: line.label, data: line.data, borderColor: lineColor, backgroundColor: lineColor,
        borderWidth: 2, pointRadius: 0, pointHitRadius: 8, cubicInterpolationMode: "monotone"
      };
    });
    new Chart(lineCanvas, {
      type: "line",
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: data.yTitle } },
          x: { ticks: { maxTicksLimit: 12 } }
        },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }

  var histogramCanvas = document.getElementById("histogram-chart");
  if (histogramCanvas !== null && data.histogram) {
    new Chart(histogramCanvas, {
      type: "bar",
      data: {
        labels: data.histogram.labels,
        datasets: [{ label: "Runs", data: data.histogram.data, backgroundColor: color("accent") }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { display: false } }
      }
    });
  }
})();
