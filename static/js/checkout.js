// Checkout: the new-address fields show only while "a new address" is the choice. Without
// this file every field stays visible; the server reads them only for a new address.
(function () {
  "use strict";
  var panel = document.querySelector("[data-shown-for]");
  var radios = document.querySelectorAll('input[type="radio"][name="address"]');
  if (!panel || !radios.length) { return; }

  function sync() {
    var chosen = document.querySelector('input[type="radio"][name="address"]:checked');
    panel.hidden = Boolean(chosen) && chosen.value !== panel.dataset.shownFor;
  }

  Array.prototype.forEach.call(radios, function (radio) {
    radio.addEventListener("change", sync);
  });
  sync();
})();
