// The queue's filter form: send only the fields that say something, so the address
// bar (hx-push-url) reads ?kind=claim, not ?kind=&reason=&... The server treats a
// blank value as no filter anyway (review/queue_filter.py); this is about tidy URLs.
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (ev) {
    if (!ev.detail.elt || ev.detail.elt.id !== "filters") { return; }
    var params = ev.detail.parameters;
    var blank = [];
    if (params instanceof FormData) {
      params.forEach(function (value, key) { if (String(value).trim() === "") { blank.push(key); } });
      blank.forEach(function (key) { params.delete(key); });
    } else {
      Object.keys(params).forEach(function (key) {
        if (String(params[key]).trim() === "") { delete params[key]; }
      });
    }
  });
})();
