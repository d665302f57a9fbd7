// Draw every figure embedded on the page (JSON built by dashboard/charts.py) with the local Plotly.
// For printing, the charts are redrawn at the A4 text width and a lower height, then restored.
// Plotly's options come from the page (#chart-config, dashboard/charts.py CONFIG): one definition.
(function () {
  "use strict";
  var configSource = document.getElementById("chart-config");
  var config = configSource ? JSON.parse(configSource.textContent) : {};
  config.showSendToCloud = false;  // whatever the page says: never a button that uploads the chart
  config.plotlyServerURL = "";
  var charts = [];
  // The mode bar's buttons work with the mouse; from the keyboard they would be 6 tab stops per
  // chart before the page's content (the data tables hold the numbers, the range form zooms).
  // Every button keeps its name (aria-label) for voice control and screen readers.
  function quietModeBar(el) {
    el.querySelectorAll(".modebar-btn, .modebar a").forEach(function (button) {
      button.setAttribute("tabindex", "-1");
      if (!button.getAttribute("aria-label")) {
        button.setAttribute("aria-label", button.getAttribute("data-title") || "Chart tool");
      }
    });
  }
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var source = document.getElementById(el.dataset.figure);
    if (!source) { return; }
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(el, figure.data, figure.layout, config).then(function () {
      quietModeBar(el);
      el.on("plotly_afterplot", function () { quietModeBar(el); });  // Plotly redraws the bar
    });
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
