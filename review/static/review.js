// Keyboard shortcuts for the review pages. Plain script, no build step.
// Navigation mode: j/k move between fields, e edits, a/r/i decide, n next task, ? help.
// While editing a field, Enter keeps the value and Escape restores the original.
(function () {
  "use strict";
  // The task page has its own keys (task.js): fields, decisions without traps, evidence.
  if (document.querySelector("[data-keys=task]")) { return; }
  var current = -1;
  var pending = null; // outcome waiting for its reason (reject / request_info)

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.field")); }

  function select(i) {
    var all = rows();
    if (!all.length) { return; }
    current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r, k) { r.classList.toggle("current", k === current); });
    all[current].scrollIntoView({ block: "nearest" });
  }

  function input(row) { return row.querySelector("input"); }

  function startEdit() {
    var all = rows();
    if (current < 0) { select(0); }
    var field = input(all[current]);
    field.readOnly = false;
    field.focus();
    field.select();
  }

  function endEdit(field, keep) {
    if (!keep) { field.value = field.dataset.original; }
    field.readOnly = true;
    field.classList.toggle("changed", field.value !== field.dataset.original);
    field.blur();
  }

  function submitWith(outcome) {
    var form = document.getElementById("review-form");
    var button = form && form.querySelector('button[value="' + outcome + '"]');
    // A real click: both htmx and a plain form post then send the button's outcome.
    if (button) { button.click(); }
  }

  function askReason(outcome) {
    var reason = document.getElementById("reason");
    if (!reason) { return; }
    pending = outcome;
    reason.placeholder = "reason, then Enter to " + outcome.replace("_", " ");
    reason.focus();
  }

  function nextTask() {
    var form = document.getElementById("next-form");
    if (form) { form.requestSubmit(); }
  }

  function toggleHelp() {
    var help = document.getElementById("help");
    if (help) { help.hidden = !help.hidden; }
  }

  document.addEventListener("keydown", function (ev) {
    var el = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (el && el.closest && el.closest("tr.field") && el.tagName === "INPUT" && !el.readOnly) {
      if (ev.key === "Enter") { ev.preventDefault(); endEdit(el, true); }
      else if (ev.key === "Escape") { ev.preventDefault(); endEdit(el, false); }
      return;
    }
    if (el && el.id === "reason") {
      if (ev.key === "Enter") { ev.preventDefault(); submitWith(pending || "reject"); pending = null; }
      else if (ev.key === "Escape") { pending = null; el.blur(); }
      return;
    }
    if (el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT")) { return; }
    var actions = {
      j: function () { select(current + 1); },
      k: function () { select(current - 1); },
      e: startEdit,
      a: function () { submitWith("approve"); },
      r: function () { askReason("reject"); },
      i: function () { askReason("request_info"); },
      n: nextTask,
      "?": toggleHelp
    };
    var action = actions[ev.key];
    if (action) { ev.preventDefault(); action(); }
  });

  // Inputs nobody changed are not sent: the server would ignore them anyway, and
  // this keeps the request to what the reviewer actually touched.
  document.addEventListener("htmx:configRequest", function (ev) {
    var params = ev.detail.parameters;
    rows().forEach(function (r) {
      var field = input(r);
      if (field.value === field.dataset.original) {
        if (params instanceof FormData) { params.delete(field.name); } else { delete params[field.name]; }
      }
    });
  });
})();
