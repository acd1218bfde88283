// Value normalisers for typed corrections: a port of schemas/values.py, so the task
// page can refuse a value that is not of its field's shape before it is sent, and
// show the spelling the server will store. The server normalises again and answers
// 422 for anything this lets through that it does not read.
// window.autoclerkValues.normalize(shape, text) -> normalised string, or null.
(function () {
  "use strict";
  var MONTHS = { JAN: 1, FEB: 2, MAR: 3, APR: 4, MAY: 5, JUN: 6, JUL: 7, AUG: 8, SEP: 9, OCT: 10, NOV: 11, DEC: 12 };
  var MON = "(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\\.?";
  var DATE_PATTERNS = [
    ["ymd", /(?<!\d)(\d{4})[\/\-.](\d{1,2})[\/\-.](\d{1,2})(?!\d)/g],
    ["dmy", /(?<!\d)(\d{1,2})\s?[\/\-.]\s?(\d{1,2})\s?[\/\-.]\s?(\d{4}|\d{2})(?!\d)/g],
    ["dMy", new RegExp("(?<!\\d)(\\d{1,2})[\\s\\-/.]*" + MON + "[\\s\\-/.,]*(\\d{4}|\\d{2})(?!\\d)", "g")],
    ["Mdy", new RegExp(MON + "\\s*(\\d{1,2}),?\\s*(\\d{4})(?!\\d)", "g")],
    ["8digit", /(?<!\d)(\d{8})(?!\d)/g],
    ["spaced", /(?<![\d.])(\d{2}) (\d{2}) (\d{4}|\d{2})(?![\d.])/g]
  ];

  function year(text) {
    var y = parseInt(text, 10);
    if (text.length === 2) { return y < 70 ? 2000 + y : 1900 + y; }
    return y;
  }

  function pad(n, width) { var s = String(n); while (s.length < width) { s = "0" + s; } return s; }

  function iso(y, m, d) {
    if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1) { return null; }
    var last = new Date(Date.UTC(y, m, 0)).getUTCDate();
    if (d > last) { return null; }
    return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2);
  }

  function firstReading(kind, g) {
    var n = function (s) { return parseInt(s, 10); };
    var readings;
    if (kind === "ymd") { readings = [iso(n(g[1]), n(g[2]), n(g[3]))]; }
    else if (kind === "dmy" || kind === "spaced") {
      readings = [iso(year(g[3]), n(g[2]), n(g[1])), iso(year(g[3]), n(g[1]), n(g[2]))];
    } else if (kind === "dMy") { readings = [iso(year(g[3]), MONTHS[g[2].slice(0, 3)], n(g[1]))]; }
    else if (kind === "Mdy") { readings = [iso(n(g[3]), MONTHS[g[1].slice(0, 3)], n(g[2]))]; }
    else {
      var s = g[1];
      readings = [];
      if (s.slice(0, 2) === "19" || s.slice(0, 2) === "20") {
        readings.push(iso(n(s.slice(0, 4)), n(s.slice(4, 6)), n(s.slice(6))));
      }
      readings.push(iso(n(s.slice(4)), n(s.slice(2, 4)), n(s.slice(0, 2))));
    }
    return readings.filter(function (r) { return r; })[0] || null;
  }

  function date(text) {
    if (!text) { return null; }
    var upper = text.toUpperCase();
    var best = null;
    DATE_PATTERNS.forEach(function (p) {
      var re = new RegExp(p[1].source, "g");
      var m;
      while ((m = re.exec(upper)) !== null) {
        var r = firstReading(p[0], m);
        if (r && (!best || m.index < best[0] || (m.index === best[0] && r < best[1]))) { best = [m.index, r]; }
        if (m[0] === "") { re.lastIndex += 1; }
      }
    });
    return best ? best[1] : null;
  }

  // Decimal.quantize(Decimal("0.01")) with Python's default rounding (half to even).
  function twoPlaces(s) {
    var neg = s.charAt(0) === "-";
    var parts = (neg ? s.slice(1) : s).split(".");
    var frac = parts[1] || "";
    var digits = BigInt(parts[0] + frac);
    var scale = frac.length;
    var cents;
    if (scale <= 2) { cents = digits * 10n ** BigInt(2 - scale); }
    else {
      var div = 10n ** BigInt(scale - 2);
      cents = digits / div;
      var rest = 2n * (digits % div);
      if (rest > div || (rest === div && cents % 2n === 1n)) { cents += 1n; }
    }
    var str = pad(cents.toString(), 3);
    return (neg ? "-" : "") + str.slice(0, -2) + "." + str.slice(-2);
  }

  function count(s, ch) { return s.split(ch).length - 1; }

  function amount(text) {
    if (!text) { return null; }
    var s = text.replace(/(RM|MYR|USD|EUR|GBP|SGD|US\$|S\$|\$|€|£)/gi, "").replace(/ /g, "").trim();
    if (count(s, ",") && count(s, ".")) {
      s = s.lastIndexOf(".") > s.lastIndexOf(",") ? s.replace(/,/g, "") : s.replace(/\./g, "").replace(/,/g, ".");
    } else if (count(s, ",") === 1 && /^-?\d+,\d{2}$/.test(s)) {
      s = s.replace(",", ".");
    } else {
      s = s.replace(/,/g, "");
    }
    if (!/^-?\d+(\.\d+)?$/.test(s)) { return null; }
    return twoPlaces(s);
  }

  function stripChars(s, chars) {
    var a = 0, b = s.length;
    while (a < b && chars.indexOf(s.charAt(a)) >= 0) { a += 1; }
    while (b > a && chars.indexOf(s.charAt(b - 1)) >= 0) { b -= 1; }
    return s.slice(a, b);
  }

  function text(t) {
    if (t === null || t === undefined) { return null; }
    var s = stripChars(t.replace(/\s+/g, " ").trim(), ":;,-*#").trim();
    return s || null;
  }

  function address(t) {
    var s = text(t);
    if (s === null) { return null; }
    s = s.toUpperCase().replace(/\s*,\s*/g, " ").replace(/\s+([.;:])/g, "$1");
    return s.replace(/\s+/g, " ").trim() || null;
  }

  function codes(t) {
    if (!t) { return null; }
    var seen = [];
    t.toUpperCase().split(/[\s,;|\/]+/).forEach(function (p) {
      if (!p) { return; }
      var m = /^([A-Z][0-9][0-9A-Z])([0-9A-Z]{1,4})$/.exec(p);
      var code = m ? m[1] + "." + m[2] : p;
      if (seen.indexOf(code) < 0) { seen.push(code); }
    });
    return seen.join(",") || null;
  }

  var CURRENCIES = { "$": "USD", "US$": "USD", "RM": "MYR", "€": "EUR", "£": "GBP", "S$": "SGD" };

  function currency(t) {
    if (!t) { return null; }
    var m = /(?<![A-Z])(USD|MYR|EUR|GBP|SGD|US\$|S\$|RM|\$|€|£)(?![A-Z])/.exec(t.toUpperCase());
    return m ? (CURRENCIES[m[1]] || m[1]) : null;
  }

  function category(t) { var s = text(t); return s ? s.toLowerCase() : null; }

  var NORMALIZERS = {
    date: date, amount: amount, codes: codes, address: address, text: text, currency: currency, category: category
  };
  var NAMES = { date: "date", amount: "amount", codes: "list of codes", currency: "currency" };

  window.autoclerkValues = {
    normalize: function (shape, t) { return (NORMALIZERS[shape] || text)(t); },
    describe: function (shape) { return NAMES[shape] || shape; }
  };
})();
