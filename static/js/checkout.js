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

// Checkout: the membership points box switches the discount and the totals shown between
// the two the server priced (with and without points). The server reads the box itself.
(function () {
  "use strict";
  var section = document.getElementById("points");
  var box = document.querySelector('input[name="use_points"]');
  if (!section || !box || !section.dataset.totalWith) { return; }
  var discount = document.querySelector('[data-amount="discount"]');
  var total = document.querySelector('[data-amount="total"]');
  var button = document.getElementById("place-order");

  function sync() {
    var suffix = box.checked ? "With" : "Without";
    if (discount) { discount.textContent = section.dataset["discount" + suffix]; }
    if (total) { total.textContent = section.dataset["total" + suffix]; }
    if (button) { button.textContent = section.dataset["label" + suffix]; }
  }

  box.addEventListener("change", sync);
  sync();
})();
