// Range and bucket choices: a click (or Enter) on a choice shows it at once; arrow keys only move
// between the choices (WAI-ARIA radio group behaviour), and "Show" or Enter applies them. Typing
// a date switches to the custom range. After the page reloads, focus returns to the choice used.
(function () {
  "use strict";
  var form = document.getElementById("range-form");
  if (!form) { return; }
  var FOCUS_KEY = "moodwatch-range-focus";
  var pointer = false;

  function submitFrom(input) {
    if (input.name === "range" && input.value !== "custom") {
      // A new preset gets its own default bucket (hours for 24 h, days otherwise).
      form.querySelectorAll("input[name=bucket]").forEach(function (b) { b.checked = false; });
    }
    try { sessionStorage.setItem(FOCUS_KEY, input.name + "=" + input.value); } catch (e) { /* private mode */ }
    form.submit();
  }

  form.addEventListener("pointerdown", function () { pointer = true; });
  form.addEventListener("keydown", function (event) {
    pointer = false;
    var target = event.target;
    if (event.key === "Enter" && target.type === "radio") {
      event.preventDefault();
      target.checked = true;
      if (target.value !== "custom") { submitFrom(target); }
    }
  });
  form.querySelectorAll("input[type=radio]").forEach(function (input) {
    input.addEventListener("change", function () {
      var byPointer = pointer;
      pointer = false;
      if (byPointer && input.value !== "custom") { submitFrom(input); }
    });
  });
  form.querySelectorAll("input[type=date]").forEach(function (input) {
    input.addEventListener("change", function () {
      var custom = form.querySelector("input[name=range][value=custom]");
      if (custom) { custom.checked = true; }
    });
  });
  var remembered = null;
  try { remembered = sessionStorage.getItem(FOCUS_KEY); sessionStorage.removeItem(FOCUS_KEY); } catch (e) { /* ignore */ }
  if (remembered) {
    var parts = remembered.split("=");
    var again = form.querySelector("input[name='" + parts[0] + "']:checked") ||
                form.querySelector("input[name='" + parts[0] + "']");
    if (again) { again.focus(); }
  }
})();
