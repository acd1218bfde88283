// The task page: keys, decisions that cannot fire twice, typed values checked by
// shape, and where each value came from. Plain script, no build step.
//
// Keys act only while focus is outside text boxes; Escape leaves any text box. In a
// field being edited Enter keeps the value (once it reads as the field's shape, see
// values.js) and Escape undoes; in the reason box Enter submits once. A request in
// flight disables the decision buttons; a completed task locks the form and moves
// focus off it, so the next key (n) goes to the next task, never into a text box.
(function () {
  "use strict";
  var form = document.getElementById("review-form");
  var reason = document.getElementById("reason");
  var result = document.getElementById("result");
  var values = window.autoclerkValues;
  var current = -1;
  var editing = null; // the field input being edited
  var pending = null; // outcome waiting for its reason (reject / request_info)
  var inFlight = false;
  var done = !!document.getElementById("submitted") || !form;
  var leaving = false;

  if (result) { result.tabIndex = -1; }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.field")); }
  function input(row) { return row.querySelector("input"); }
  function rowOf(el) { return el && el.closest ? el.closest("tr.field") : null; }

  function select(i) {
    var all = rows();
    if (!all.length) { return; }
    current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r, k) { r.classList.toggle("current", k === current); });
    all[current].scrollIntoView({ block: "nearest" });
    showSource(all[current]);
  }

  function selectRow(row) { var i = rows().indexOf(row); if (i >= 0 && i !== current) { select(i); } }

  // The next (step 1) or previous (-1) field that is flagged (low, missing) or invalid.
  function jumpFlagged(step) {
    var all = rows();
    var n = all.length;
    var start = current < 0 ? (step > 0 ? -1 : n) : current;
    for (var k = 1; k <= n; k += 1) {
      var i = (((start + step * k) % n) + n) % n;
      var cls = all[i].classList;
      if (cls.contains("low") || cls.contains("missing") || cls.contains("invalid")) { select(i); return; }
    }
    status("No flagged fields.");
  }

  function status(text) {
    var note = document.getElementById("keys-status");
    if (note) { note.textContent = text; }
  }

  function fieldError(row, message) {
    row.classList.toggle("invalid", !!message);
    var msg = row.querySelector(".field-msg");
    if (msg) { msg.textContent = message || ""; }
  }

  function startEdit() {
    if (done || inFlight) { return; }
    if (current < 0) { select(0); }
    var field = input(rows()[current]);
    if (!field) { return; }
    field.readOnly = false;
    editing = field;
    field.focus();
    field.select();
  }

  // Keep a typed value only when it reads as the field's shape; show the spelling kept.
  function commitEdit(field) {
    var row = rowOf(field);
    var typed = field.value.trim();
    var shape = row.dataset.shape || "text";
    var value = typed === "" ? "" : values.normalize(shape, typed);
    if (value === null) {
      fieldError(row, "not a valid " + values.describe(shape) + ": " + JSON.stringify(typed));
      return false;
    }
    field.value = value;
    fieldError(row, "");
    endEdit(field, true);
    return true;
  }

  function endEdit(field, keep) {
    if (!keep) { field.value = field.dataset.original; fieldError(rowOf(field), ""); }
    field.readOnly = true;
    field.classList.toggle("changed", field.value !== field.dataset.original);
    if (editing === field) { editing = null; }
    field.blur();
  }

  function invalidRow() { return document.querySelector("tr.field.invalid"); }

  function submitWith(outcome) {
    if (done || inFlight || !form) { return; }
    var bad = invalidRow();
    if (bad) { selectRow(bad); status("Fix or undo the marked field first (e to edit, Esc undoes)."); return; }
    var button = form.querySelector('button[value="' + outcome + '"]');
    // A real click: both htmx and a plain form post then send the button's outcome.
    if (button && !button.disabled) { button.click(); }
  }

  function askReason(outcome) {
    if (done || inFlight || !reason) { return; }
    pending = outcome;
    if (outcome === "reject" && !rejectKind()) {
      // A reject must say what is wrong (feedback export trusts only checked fields):
      // the kind first, with the arrows or b / d, Enter; then the reason.
      var first = document.getElementById("reject-fields");
      if (first) {
        status("Reject: what is wrong? \u2191/\u2193 or b (the case) / d (the data), then Enter; Esc leaves.");
        first.focus();
        return;
      }
    }
    reason.placeholder = "reason, then Enter to " + outcome.replace("_", " ");
    reason.focus();
  }

  function rejectKind() {
    return document.querySelector('input[name="reject_kind"]:checked');
  }

  function kindKey(ev, el) {
    if (ev.key === "Escape") { ev.preventDefault(); pending = null; el.blur(); return; }
    if (ev.key === "b" || ev.key === "d") {
      ev.preventDefault();
      var pick = document.getElementById(ev.key === "b" ? "reject-business" : "reject-fields");
      if (pick) { pick.checked = true; pick.focus(); }
      return;
    }
    if (ev.key !== "Enter") { return; } // the arrows move between the choices natively
    ev.preventDefault();
    if (ev.repeat) { return; }
    el.checked = true;
    pending = pending || "reject";
    reason.placeholder = "reason, then Enter to reject";
    reason.focus();
  }

  function reasonKey(ev) {
    if (ev.key === "Escape") { ev.preventDefault(); pending = null; reason.blur(); return; }
    if (ev.key !== "Enter") { return; }
    ev.preventDefault();
    if (ev.repeat || inFlight || done) { return; }
    if (!reason.value.trim()) { reason.placeholder = "a reason is needed; Esc to leave"; return; }
    if ((pending || "reject") === "reject" && !rejectKind()) { askReason("reject"); return; }
    submitWith(pending || "reject");
  }

  function nextTask() {
    var next = document.getElementById("next-form");
    if (next && !leaving && !inFlight) { leaving = true; next.requestSubmit(); }
  }

  function toggleHelp(show) {
    var help = document.getElementById("help");
    if (help) { help.hidden = show === undefined ? !help.hidden : !show; }
  }

  function restFocus() {
    var el = document.activeElement;
    if (el && el !== document.body && el.blur) { el.blur(); }
    if (result) { result.focus({ preventScroll: true }); }
  }

  function locked(on) {
    if (!form) { return; }
    form.querySelectorAll(".actions button").forEach(function (b) { b.disabled = on; });
    if (reason) { reason.readOnly = on; }
  }

  // Where the current field's value was read: its line in the text, its box on the page.
  function showSource(row) {
    document.querySelectorAll(".doc-lines li.source").forEach(function (li) { li.classList.remove("source"); });
    document.querySelectorAll(".source-box").forEach(function (b) { b.hidden = true; });
    var line = row.dataset.line;
    var li = line === undefined ? null : document.querySelector('.doc-lines li[data-line="' + line + '"]');
    if (li) { li.classList.add("source"); li.scrollIntoView({ block: "nearest" }); }
    if (row.dataset.bbox) { showBox(row.dataset.bbox.split(",").map(Number), row.dataset.page || "0"); }
  }

  function showBox(b, page) {
    var wrap = document.querySelector('.pdf-page-wrap[data-page="' + page + '"]');
    var w = wrap && Number(wrap.dataset.width);
    var h = wrap && Number(wrap.dataset.height);
    if (!w || !h || b.length !== 4) { return; }
    var box = wrap.querySelector(".source-box");
    // Percentages of the page: the box follows the image at whatever size it is shown.
    box.style.left = (100 * b[0] / w) + "%";
    box.style.top = (100 * b[1] / h) + "%";
    box.style.width = (100 * (b[2] - b[0]) / w) + "%";
    box.style.height = (100 * (b[3] - b[1]) / h) + "%";
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }

  // A line's value for a field: the whole line when it reads as the shape, else the
  // rightmost word that does ("TOTAL 12.50" gives an amount 12.50), else the line.
  function fromLine(shape, text) {
    var whole = values.normalize(shape, text);
    if (whole !== null) { return whole; }
    var words = text.trim().split(/\s+/).reverse();
    for (var k = 0; k < words.length; k += 1) {
      var v = values.normalize(shape, words[k]);
      if (v !== null) { return v; }
    }
    return text.trim();
  }

  function fillFromLine(li) {
    if (!editing) {
      if (current < 0) { return; }
      startEdit();
    }
    if (!editing) { return; }
    var row = rowOf(editing);
    editing.value = fromLine(row.dataset.shape || "text", li.textContent);
    fieldError(row, "");
    editing.focus();
  }

  var actions = {
    j: function () { select(current + 1); },
    k: function () { select(current - 1); },
    f: function () { jumpFlagged(1); },
    F: function () { jumpFlagged(-1); },
    e: startEdit,
    Enter: startEdit, // on a field that has focus (Tab reaches them)
    a: function () { submitWith("approve"); },
    r: function () { askReason("reject"); },
    i: function () { askReason("request_info"); },
    n: nextTask,
    "?": function () { toggleHelp(); },
    Escape: function () { toggleHelp(false); }
  };

  function isTextBox(el) {
    return el && (el.tagName === "TEXTAREA" || el.tagName === "SELECT" || (el.tagName === "INPUT" && !el.readOnly));
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var el = ev.target;
    if (el === editing) {
      if (ev.key === "Enter") { ev.preventDefault(); if (!ev.repeat) { commitEdit(el); } }
      else if (ev.key === "Escape") { ev.preventDefault(); endEdit(el, false); }
      return;
    }
    if (reason && el === reason && !reason.readOnly) { reasonKey(ev); return; }
    if (el && el.name === "reject_kind" && !done) { kindKey(ev, el); return; }
    if (isTextBox(el)) {
      if (ev.key === "Escape") { ev.preventDefault(); el.blur(); }
      return;
    }
    var onField = rowOf(el);
    if (ev.key === "Enter" && !onField) { return; } // buttons and links keep their Enter
    var action = actions[ev.key];
    if (!action) { return; }
    ev.preventDefault(); // also stops a read-only input's Enter from submitting the form
    if (ev.repeat && ev.key !== "j" && ev.key !== "k") { return; }
    if (onField) { selectRow(onField); }
    action();
  });

  // Tab or a click into a field makes it the current one; leaving a field being
  // edited keeps a valid value, and leaves an invalid one marked (submitting waits).
  document.addEventListener("focusin", function (ev) { var row = rowOf(ev.target); if (row) { selectRow(row); } });
  document.addEventListener("focusout", function (ev) {
    var field = ev.target;
    if (field !== editing) { return; }
    if (!commitEdit(field)) {
      field.readOnly = true;
      field.classList.toggle("changed", field.value !== field.dataset.original);
      editing = null;
    }
  });
  document.addEventListener("click", function (ev) {
    var row = rowOf(ev.target);
    if (row) { selectRow(row); return; }
    var li = ev.target.closest && ev.target.closest(".doc-lines li");
    if (li && !done) { fillFromLine(li); }
  });
  // A click on a line must not take focus from the field being edited.
  document.addEventListener("mousedown", function (ev) {
    if (editing && ev.target.closest && ev.target.closest(".doc-lines li")) { ev.preventDefault(); }
  });

  if (!form) { return; }

  // Inputs nobody changed are not sent: the server would ignore them anyway, and
  // this keeps the request to what the reviewer actually touched.
  form.addEventListener("htmx:configRequest", function (ev) {
    var params = ev.detail.parameters;
    rows().forEach(function (r) {
      var field = input(r);
      if (field.value === field.dataset.original) {
        if (params instanceof FormData) { params.delete(field.name); } else { delete params[field.name]; }
      }
    });
  });
  form.addEventListener("htmx:beforeRequest", function (ev) {
    if (ev.target !== form) { return; }
    inFlight = true;
    locked(true);
    restFocus();
  });
  form.addEventListener("htmx:afterRequest", function (ev) {
    if (ev.target !== form) { return; }
    inFlight = false;
    if (ev.detail.successful) {
      done = true;
      pending = null;
      form.querySelectorAll("input, button").forEach(function (c) { c.disabled = true; });
    } else {
      locked(false);
      var bad = result && result.querySelector("[data-field]");
      var row = bad && document.querySelector('tr.field[data-field="' + bad.dataset.field + '"]');
      if (row) { fieldError(row, bad.dataset.reason); selectRow(row); }
    }
    restFocus();
  });
})();
