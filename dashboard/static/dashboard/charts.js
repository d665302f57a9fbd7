// Draw every figure embedded on the page (JSON built by dashboard/charts.py) with the local Plotly.
// For printing, the charts are redrawn for the paper (drawFor below), then restored.
// Plotly's options come from the page (#chart-config, dashboard/charts.py CONFIG): one definition.
(function () {
  "use strict";
  var configSource = document.getElementById("chart-config");
  var config = configSource ? JSON.parse(configSource.textContent) : {};
  config.showSendToCloud = false;  // whatever the page says: never a button that uploads the chart
  config.plotlyServerURL = "";
  var charts = [], drawn = [];
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
    drawn.push(Plotly.newPlot(el, figure.data, figure.layout, config).then(function () {
      quietModeBar(el);
      el.on("plotly_afterplot", function () { quietModeBar(el); });  // Plotly redraws the bar
    }));
    charts.push({el: el, layout: figure.layout});
  });
  // Print: two charts a row across the text width of A4 (182 mm, ~688 px at 96 dpi; Letter's is
  // wider), with smaller type, titles wrapped to the width and margins that make room for every
  // tick label and the legend, so nothing is clipped on paper. Drawn on "beforeprint" (the print
  // dialog) and whenever print media starts to apply (Chromium's PDF, emulated print), then the
  // screen layout is drawn again.
  var PRINT = {width: 330, height: 270, font: 9, title: 11, titleChars: 52};
  function wrapped(text) {
    var lines = [], line = "";
    String(text || "").split(" ").forEach(function (word) {
      if (line && (line + " " + word).length > PRINT.titleChars) { lines.push(line); line = word; }
      else { line = line ? line + " " + word : word; }
    });
    if (line) { lines.push(line); }
    return lines;
  }
  function printLayout(layout) {
    var copy = JSON.parse(JSON.stringify(layout));
    var title = wrapped(copy.title && copy.title.text);
    copy.width = PRINT.width;
    copy.height = PRINT.height;
    copy.font = Object.assign({}, copy.font, {size: PRINT.font});
    copy.title = Object.assign({}, copy.title, {text: title.join("<br>"), font: {size: PRINT.title},
                                               x: 0, xref: "paper", y: 1, yref: "container", yanchor: "top", pad: {t: 4}});
    copy.margin = {l: 40, r: 10, t: 14 + 14 * title.length, b: 8, pad: 0};
    copy.legend = Object.assign({}, copy.legend, {font: {size: PRINT.font}, orientation: "h", x: 0,
                                                y: 0, yref: "container", yanchor: "bottom"});
    ["xaxis", "yaxis"].forEach(function (axis) {
      copy[axis] = Object.assign({}, copy[axis], {automargin: true, tickfont: {size: PRINT.font}});
      if (copy[axis].title) { copy[axis].title = Object.assign({}, copy[axis].title, {font: {size: PRINT.font}}); }
    });
    (copy.annotations || []).forEach(function (note) { note.font = Object.assign({}, note.font, {size: PRINT.font}); });
    return copy;
  }
  var drawnFor = "screen";
  function drawFor(media) {
    if (media === drawnFor) { return; }
    drawnFor = media;
    document.documentElement.dataset.chartsFor = "";
    Promise.all(charts.map(function (c) {
      var layout = media === "print" ? printLayout(c.layout) : c.layout;
      return Plotly.react(c.el, c.el.data, layout, config);
    })).then(function () {
      document.documentElement.dataset.chartsFor = drawnFor;  // a test waits for this
    });
  }
  Promise.all(drawn).then(function () {
    if (window.matchMedia("print").matches) { drawFor("print"); }
    else { document.documentElement.dataset.chartsFor = "screen"; }
  });
  window.addEventListener("beforeprint", function () { drawFor("print"); });
  window.addEventListener("afterprint", function () { drawFor("screen"); });
  window.matchMedia("print").addEventListener("change", function (event) {
    drawFor(event.matches ? "print" : "screen");
  });
})();
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
