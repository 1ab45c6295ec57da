/* The dashboard's behaviour, bound here because the pages allow no inline script:
   - a button with data-gdprchat-confirm asks before its form is sent;
   - "With selected" menu items run a bulk action on the ticked rows;
   - the widget settings page redraws its preview as the admin types. */
(function () {
  "use strict";
  // Loaded by our page and again by the lists (for a host's own Flask-Admin): bind once.
  if (window.gdprchatAdminBound) { return; }
  window.gdprchatAdminBound = true;

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) { return; }
    var confirming = target.closest("[data-gdprchat-confirm]");
    if (confirming && !window.confirm(confirming.getAttribute("data-gdprchat-confirm"))) {
      event.preventDefault();
      return;
    }
    var action = target.closest("[data-gdprchat-action]");
    if (action && window.modelActions) {
      event.preventDefault();
      var menu = action.closest("details");
      if (menu) { menu.open = false; }
      window.modelActions.execute(action.getAttribute("data-gdprchat-action"));
    }
  });

  // -- the widget preview -------------------------------------------------------------
  var HEX = /^#[0-9a-fA-F]{6}$/;

  function bindPreview(preview) {
    var form = preview.closest(".gdprchat-admin-with-preview");
    if (!form) { return; }
    function field(name) { return form.querySelector("[name=" + name + "]"); }
    function part(name) { return preview.querySelector("[data-preview=" + name + "]"); }
    var fields = {
      colour: field("widget_color"),
      title: field("widget_title"),
      greeting: field("widget_greeting"),
      consent: field("consent_text")
    };
    var swatch = form.querySelector(".gdprchat-admin-swatch");
    var fallback = {
      title: preview.getAttribute("data-default-title") || "",
      consent: preview.getAttribute("data-default-consent") || "",
      days: preview.getAttribute("data-days") || ""
    };

    function ticked(name, value) {
      var box = form.querySelector("input[name=" + name + "][value=" + value + "]");
      return !!(box && box.checked);
    }

    // textContent everywhere: whatever is typed is shown as text, never as markup.
    function redraw() {
      var colour = fields.colour ? fields.colour.value.trim() : "";
      if (HEX.test(colour)) {
        preview.style.setProperty("--gdprchat-preview-colour", colour);
        if (swatch) { swatch.style.background = colour; }
      }
      if (fields.title) {
        part("title").textContent = fields.title.value.trim() || fallback.title;
      }
      if (fields.greeting) {
        var greeting = fields.greeting.value.trim();
        part("greeting").textContent = greeting;
        part("greeting").hidden = greeting === "";
      }
      if (fields.consent) {
        var consent = fields.consent.value.trim();
        // A JSON object holds one text per language: the preview keeps the default one.
        if (consent === "" || consent.charAt(0) === "{") { consent = fallback.consent; }
        part("consent").textContent = consent.split("%(days)s").join(fallback.days);
      }
      Array.prototype.forEach.call(preview.querySelectorAll("[data-preview-field]"), function (input) {
        var name = input.getAttribute("data-preview-field");
        input.hidden = !ticked("prechat_fields", name);
        var mark = input.querySelector("[data-preview-required]");
        if (mark) { mark.hidden = !ticked("prechat_required", name); }
      });
    }

    form.addEventListener("input", redraw);
    form.addEventListener("change", redraw);
    redraw();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-gdprchat-preview]"), bindPreview);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
