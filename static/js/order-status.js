// The order page polls its status while the payment webhook is on its way, then reloads.
(function () {
  "use strict";
  var box = document.querySelector("[data-status-url]");
  if (!box) { return; }
  var tries = 0;
  function poll() {
    tries += 1;
    fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.status !== box.dataset.status) { window.location.reload(); return; }
        if (tries < 90) { window.setTimeout(poll, 2000); }
      })
      .catch(function () { if (tries < 90) { window.setTimeout(poll, 4000); } });
  }
  window.setTimeout(poll, 1500);
})();
