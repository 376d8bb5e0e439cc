// The code page: a live clock (a screenshot shows a stale time) and a fresh
// signed code fetched before the shown one expires.
(function () {
  function tick() {
    var clock = document.getElementById('clock');
    if (!clock) return;
    var d = new Date();
    var p = function (n) { return (n < 10 ? '0' : '') + n; };
    clock.textContent = d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
      p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }
  tick();
  setInterval(tick, 1000);
  var box = document.getElementById('live-code');
  if (!box) return;
  function refresh() {
    fetch(box.getAttribute('data-src'), { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) { box.innerHTML = html; schedule(); })
      .catch(function () { setTimeout(refresh, 5000); });
  }
  function schedule() {
    var code = document.getElementById('code-data');
    var secs = code ? parseInt(code.getAttribute('data-refresh'), 10) : 30;
    setTimeout(refresh, Math.max(5, secs) * 1000);
  }
  schedule();
})();
