// The payment page: Stripe.js card Element + confirmCardPayment. The server created the
// PaymentIntent with its own total; this only confirms it. The order page the shopper lands
// on shows what the webhook decided.
(function () {
  "use strict";
  var form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") { return; }
  // Stripe.js writes its card errors in the page's language (Korean unless switched).
  var stripe = Stripe(form.dataset.publishableKey, { locale: document.documentElement.lang || "auto" });
  var card = stripe.elements().create("card", { hidePostalCode: true });
  card.mount("#card-element");
  var button = document.getElementById("pay-button");
  var errors = document.getElementById("card-errors");
  // Our translated text for Stripe's error codes (orders/payment_messages.py).
  var messagesNode = document.getElementById("payment-messages");
  var messages = messagesNode ? JSON.parse(messagesNode.textContent) : {};

  function errorText(error) {
    return messages[error.decline_code] || messages[error.code] || error.message || String(error);
  }

  function showError(message) {
    errors.textContent = message;
    errors.hidden = false;
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errors.hidden = true;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    stripe.confirmCardPayment(form.dataset.clientSecret, { payment_method: { card: card } })
      .then(function (result) {
        if (result.error) {
          showError(errorText(result.error));
        } else {
          window.location.assign(form.dataset.returnUrl);
        }
      })
      .catch(function (err) { showError(String(err)); });
  });
})();
