// Picking a preset submits at once; typing a date switches to the custom range.
(function () {
  "use strict";
  var form = document.getElementById("range-form");
  if (!form) { return; }
  form.querySelectorAll("input[type=date]").forEach(function (input) {
    input.addEventListener("change", function () {
      var custom = form.querySelector("input[name=range][value=custom]");
      if (custom) { custom.checked = true; }
    });
  });
  form.querySelectorAll("input[name=range]").forEach(function (input) {
    input.addEventListener("change", function () {
      if (input.value === "custom") { return; }
      // A new preset gets its own default bucket (hours for 24 h, days otherwise).
      form.querySelectorAll("input[name=bucket]").forEach(function (b) { b.checked = false; });
      form.submit();
    });
  });
  form.querySelectorAll("input[name=bucket]").forEach(function (input) {
    input.addEventListener("change", function () { form.submit(); });
  });
})();
