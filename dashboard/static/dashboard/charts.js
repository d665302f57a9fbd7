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
  /* phone: titles and date labels that fit the chart ----------------------------------------- */
  // Plotly never wraps a title and stands crowded tick labels on end: on a 390 px phone the titles
  // ran past the chart's edge and under the mode bar (top right), and the dates stood on end, cut.
  // After every draw (the first, a resize, the print layout) each chart is fitted to its width:
  // - the title is broken at spaces into the room left of the mode bar, the top margin grows by its
  //   extra lines, and its first line is placed TITLE_TOP px from the top (Plotly shifts a title of
  //   several lines by an amount of its own: measured on the first such chart, used for the others);
  // - the legend keeps its distance below the plot, in pixels, when the title's lines make the plot
  //   shorter (the figure gives it as a fraction of the plot's height: it would move up, onto the dates);
  // - only every n-th date is labelled, level, where the labels would collide.
  // The relayout draws again; the next pass finds nothing to change, and a chart gets at most
  // MAX_PASSES passes per width (no loop).
  var TITLE_LINE = 20, TITLE_TOP = 8, MAX_PASSES = 4;
  var measure = document.createElement("canvas").getContext("2d");
  function textWidth(text, font) {
    measure.font = font.size + "px " + font.family;
    return measure.measureText(text).width;
  }
  function titleLines(el, text, font) {
    var bar = el.querySelector(".modebar");
    var room = el.clientWidth - (bar ? bar.getBoundingClientRect().width + 12 : 0) - 4;
    var lines = [], line = "";
    text.split(" ").forEach(function (word) {
      var longer = line ? line + " " + word : word;
      if (line && textWidth(longer, font) > room) { lines.push(line); line = word; } else { line = longer; }
    });
    return lines.concat([line]);
  }
  var titleShift = {};  // line count -> px Plotly moves such a title's top from its anchor (measured)
  function titleY(lines, height) {
    return 1 - (TITLE_TOP - (titleShift[lines] || 0)) / height;
  }
  function titleUpdate(el, layout) {
    if (!layout.title || !layout.title.text) { return {}; }
    var lines = titleLines(el, layout.title.text, {size: layout.title.font.size, family: layout.font.family});
    var text = lines.join("<br>"), full = el._fullLayout, multi = lines.length > 1;
    if (el.layout.title.text !== text) {
      return {"title.text": text, "margin.t": layout.margin.t + (lines.length - 1) * TITLE_LINE,
              "title.y": multi ? titleY(lines.length, full.height) : (layout.title.y === undefined ? null : layout.title.y),
              "title.yanchor": multi ? "top" : null};
    }
    if (!multi) { return {}; }
    var top = el.querySelector(".gtitle").getBoundingClientRect().top - el.getBoundingClientRect().top;
    titleShift[lines.length] = top - (1 - full.title.y) * full.height;
    return Math.abs(top - TITLE_TOP) > 1 ? {"title.y": titleY(lines.length, full.height)} : {};
  }
  function legendUpdate(el, layout, marginTop) {
    if (!layout.legend || layout.legend.y === undefined || layout.legend.y >= 0) { return {}; }
    var extra = marginTop - layout.margin.t;  // the title's extra lines
    var plotHeight = el._fullLayout._size.h - (marginTop - el._fullLayout.margin.t);
    var y = layout.legend.y * (plotHeight + extra) / plotHeight;  // the gap the plot had without them
    return Math.abs(y - el.layout.legend.y) > 0.002 ? {"legend.y": y} : {};
  }
  function tickUpdate(el, layout) {
    var font = {size: layout.font.size, family: layout.font.family};
    var ticks = el.querySelectorAll(".xgrid").length + 1;  // a grid line per tick but the first
    var widest = 0;
    el.querySelectorAll(".xtick text").forEach(function (label) {
      var lines = label.querySelectorAll("tspan.line");
      (lines.length ? Array.prototype.slice.call(lines) : [label]).forEach(function (line) {
        widest = Math.max(widest, textWidth(line.textContent, font));
      });
    });
    var step = Math.max(1, Math.ceil((widest + 12) / (el._fullLayout._size.w / ticks)));
    // Plotly may keep a label angle it chose before (seen on the timeline): ask again while one stands.
    var standing = step > 1 && el.querySelector(".xtick text[transform*='rotate']");
    if ((el.layout.xaxis.ticklabelstep || 1) === step && !standing) { return {}; }
    return {"xaxis.ticklabelstep": step,
            "xaxis.tickangle": step > 1 ? 0 : (layout.xaxis.tickangle === undefined ? null : layout.xaxis.tickangle)};
  }
  function fitToWidth(el, layout) {
    if (el.fittedWidth !== el.clientWidth) { el.fittedWidth = el.clientWidth; el.fitPasses = 0; }
    if (el.fitPasses >= MAX_PASSES) { return; }
    var update = titleUpdate(el, layout);
    var marginTop = update["margin.t"] === undefined ? el._fullLayout.margin.t : update["margin.t"];
    Object.assign(update, legendUpdate(el, layout, marginTop), tickUpdate(el, layout));
    if (Object.keys(update).length) {
      el.fitPasses += 1;
      Plotly.relayout(el, update);
    }
  }
  /* end phone */
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var source = document.getElementById(el.dataset.figure);
    if (!source) { return; }
    var figure = JSON.parse(source.textContent);
    // Plotly keeps (and changes) the layout it is given: figure.layout stays as designed.
    drawn.push(Plotly.newPlot(el, figure.data, JSON.parse(source.textContent).layout, config).then(function () {
      quietModeBar(el);
      fitToWidth(el, figure.layout);
      el.on("plotly_afterplot", function () {  // Plotly redraws the bar, and after a resize
        quietModeBar(el);
        // the print layout sizes its own titles for paper; the phone fitting is for the screen
        if (drawnFor === "screen") { fitToWidth(el, figure.layout); }
      });
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
      var layout = media === "print" ? printLayout(c.layout) : JSON.parse(JSON.stringify(c.layout));
      c.el.fittedWidth = null;  // back on screen: fit to the width again
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
