// Each meter's generation and consumption charts, drawn with Chart.js from the dashboard's JSON series
// (integer Wh per bucket).
"use strict";
(function () {
  for (const canvas of document.querySelectorAll("canvas[data-series]")) {
    fetch(canvas.dataset.series, {credentials: "same-origin"})
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((series) => {
        canvas.dataset.points = series.labels.length;
        new Chart(canvas, {
          type: "bar",
          data: {
            labels: series.labels,
            datasets: [
              {label: "Generated (Wh)", data: series.generated_wh, backgroundColor: "#65a30d"},
              {label: "Consumed (Wh)", data: series.consumed_wh, backgroundColor: "#f59e0b"},
            ],
          },
          options: {animation: false, responsive: true, scales: {y: {beginAtZero: true, title: {display: true, text: "Wh"}}}},
        });
        canvas.dataset.drawn = "true";
      })
      .catch((status) => { canvas.replaceWith(document.createTextNode("The chart could not be loaded (" + status + ").")); });
  }
})();
