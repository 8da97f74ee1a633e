// The countdown to the next lock, from the server's clock: the page carries the
// server's "now", so a browser whose clock is wrong still counts the right time.
(function () {
  "use strict";
  var serverNow = Date.parse(document.body.getAttribute("data-server-now"));
  var offset = isNaN(serverNow) ? 0 : serverNow - Date.now();

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function remaining(ms) {
    if (ms <= 0) { return "đã khoá"; }
    var s = Math.floor(ms / 1000);
    var days = Math.floor(s / 86400);
    var hours = Math.floor((s % 86400) / 3600);
    var minutes = Math.floor((s % 3600) / 60);
    var seconds = s % 60;
    return (days ? days + " ngày " : "") + two(hours) + ":" + two(minutes) + ":" + two(seconds);
  }

  function tick() {
    var now = Date.now() + offset;
    document.querySelectorAll("[data-locks-at]").forEach(function (el) {
      var locksAt = Date.parse(el.getAttribute("data-locks-at"));
      var out = el.querySelector(".remaining");
      if (out && !isNaN(locksAt)) {
        out.textContent = remaining(locksAt - now);
        el.classList.toggle("soon", locksAt - now < 2 * 3600 * 1000);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
  });
})();

// At capacity the API answers 503 with Retry-After: a page that could not be read
// loads again, and a form the system could not take yet is sent again, by itself,
// once the wait is over (gateway/web/templates/retry.html, problem.html).
(function () {
  "use strict";
  function countDown(el, seconds, done) {
    var left = Math.max(1, parseInt(seconds, 10) || 1);
    var out = el.querySelector(".retry-in") || (el.closest("section") || el).querySelector(".retry-in");
    var timer = setInterval(function () {
      left -= 1;
      if (out) { out.textContent = String(Math.max(left, 0)); }
      if (left <= 0) { clearInterval(timer); done(); }
    }, 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-resubmit-after]").forEach(function (form) {
      countDown(form, form.getAttribute("data-resubmit-after"), function () { form.submit(); });
    });
    document.querySelectorAll("[data-reload-after]").forEach(function (el) {
      countDown(el, el.getAttribute("data-reload-after"), function () { window.location.reload(); });
    });
  });
})();
