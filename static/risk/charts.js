/* Draws the risk pages' charts with the vendored Chart.js.
 *
 * Each <canvas data-chart="ID"> has its data in <script type="application/json" id="ID"> (Django's json_script):
 * {type, unit, labels, datasets: [{label, data}]}, numbers as strings. The table beside the chart holds the same
 * numbers; the chart only draws them. No animation, so a chart is complete as soon as the page is.
 */
(function () {
  "use strict";
  var COLOURS = ["#2563eb", "#d97706", "#dc2626", "#059669", "#7c3aed", "#0891b2", "#be185d", "#65a30d",
                 "#9333ea", "#ea580c", "#0f766e", "#4b5563"];

  function toNumber(value) {
    return value === null || value === "" ? null : Number(value);
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || typeof Chart === "undefined") {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var line = spec.type === "line";
    var datasets = spec.datasets.map(function (dataset, index) {
      var colour = COLOURS[index % COLOURS.length];
      return {
        label: dataset.label,
        data: dataset.data.map(toNumber),
        backgroundColor: colour,
        borderColor: colour,
        borderWidth: line ? 2 : 0,
        pointRadius: line ? 2 : 0,
        spanGaps: false,
        fill: false
      };
    });
    var unit = spec.unit || "";
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (context) {
                return context.dataset.label + ": " + context.formattedValue + (unit ? " " + unit : "");
              }
            }
          }
        },
        scales: {
          y: { beginAtZero: true, ticks: { callback: function (value) { return value + (unit ? " " + unit : ""); } } }
        }
      }
    });
    canvas.setAttribute("data-drawn", "true");
  }

  function drawAll() {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i += 1) {
      draw(canvases[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
