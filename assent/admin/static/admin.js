// Small progressive enhancements; every screen also works without this file.
(function () {
  "use strict";
  var csrf = function () { return document.body.dataset.csrf || ""; };

  // htmx requests carry the session's CSRF token, like the forms' hidden field does.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrf();
  });

  // Fragments swapped into the dialog open it; [data-close-dialog] closes it.
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = document.getElementById("dialog");
    if (event.detail.target && event.detail.target.id === "dialog-body") {
      if (!dialog.open) { dialog.showModal(); }
      var first = dialog.querySelector("[autofocus], input:not([type=hidden]), select, textarea, button");
      if (first) { first.focus(); }
    }
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    var menu = target.closest && target.closest("details.menu > div");
    if (menu) { menu.parentElement.removeAttribute("open"); }
    // Inside the dialog, close it; on the plain page (no dialog) the link goes back.
    if (target.closest && target.closest("[data-close-dialog]") && target.closest("dialog[open]")) {
      event.preventDefault();
      document.getElementById("dialog").close();
    }
  });

  // Contacts index: the header checkbox selects the page; "select all N matching" selects
  // the whole search (a hidden field the bulk panel reads).
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("[data-select-page]")) {
      document.querySelectorAll("input[name=contact_id]").forEach(function (row) { row.checked = box.checked; });
    }
    if (box.matches && (box.matches("[data-select-page]") || box.matches("input[name=contact_id]"))) {
      var form = box.form;
      var all = form && form.querySelector("[name=all_matching]");
      if (all && all.type === "checkbox" && !box.checked) { all.checked = false; }
      updateCount(form);
    }
    if (box.matches && box.matches("[name=all_matching]")) { updateCount(box.form); }
  });
  function updateCount(form) {
    var out = form && form.querySelector("[data-selected-count]");
    if (!out) { return; }
    var all = form.querySelector("[name=all_matching]");
    if (all && all.checked) { out.textContent = all.dataset.label; return; }
    var n = form.querySelectorAll("input[name=contact_id]:checked").length;
    out.textContent = n === 1 ? "1 contact selected" : n + " contacts selected";
  }
})();
