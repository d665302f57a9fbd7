// Draw every figure embedded on the page (JSON built by dashboard/charts.py) with the local Plotly.
// For printing, the charts are redrawn at the A4 text width and a lower height, then restored.
(function () {
  "use strict";
  var config = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"]};
  var charts = [];
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var source = document.getElementById(el.dataset.figure);
    if (!source) { return; }
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(el, figure.data, figure.layout, config);
    charts.push({el: el, height: figure.layout.height});
  });
  // Two charts side by side across an A4 page (210 mm less 2 x 14 mm margins is ~690 px at 96 dpi).
  var PRINT_WIDTH = 335, PRINT_HEIGHT = 250;
  window.addEventListener("beforeprint", function () {
    charts.forEach(function (c) { Plotly.relayout(c.el, {width: PRINT_WIDTH, height: PRINT_HEIGHT}); });
  });
  window.addEventListener("afterprint", function () {
    charts.forEach(function (c) { Plotly.relayout(c.el, {width: null, height: c.height, autosize: true}); });
  });
})();
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
