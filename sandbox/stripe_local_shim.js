/*
 * Global Store addition to localstripe's fake Stripe.js (served by sandbox/stripe_local.py
 * right after localstripe-v3.js, in the same script, so LOCALSTRIPE_BASE_API, Element and
 * the localstripe Stripe factory above are in scope). Development and tests only.
 *
 * localstripe's confirmCardPayment ignores the card Element and only runs its 3D Secure
 * modal, so a PaymentIntent created server-side without a payment method could never be
 * paid. This wrapper sends the Element's card to POST /v1/payment_intents/<id>/_confirm_card
 * (publishable key + client secret, like Stripe.js), then hands over to localstripe's 3D
 * Secure modal when the card asks for it. Results have Stripe.js's shape:
 * {paymentIntent} or {error: {type, code, decline_code?, message, payment_intent?}}.
 */
(function () {
  'use strict';

  const localstripeFactory = window.Stripe;

  function cardFrom(element) {
    const value = element.value || {};
    const card = value.card || {};
    return {
      card: {
        number: String(card.number || '').replace(/\D/g, ''),
        exp_month: String(card.exp_month || ''),
        exp_year: String(card.exp_year || '').replace(/^20(\d{4})$/, '$1'),
        cvc: String(card.cvc || ''),
      },
      postalCode: value.postal_code || '',
    };
  }

  async function confirmWithCard(apiKey, clientSecret, paymentMethod) {
    const match = /^(pi_\w+?)_secret_/.exec(clientSecret || '');
    if (!match) {
      return {error: {type: 'invalid_request_error', code: 'invalid_client_secret',
                      message: 'Invalid value for confirmCardPayment: clientSecret.'}};
    }
    const {card, postalCode} = cardFrom(paymentMethod.card);
    if (!card.number) {
      return {error: {type: 'validation_error', code: 'incomplete_number',
                      message: 'Your card number is incomplete.'}};
    }
    const billing = Object.assign({}, paymentMethod.billing_details || {});
    billing.address = Object.assign({}, billing.address || {});
    if (!billing.address.postal_code && postalCode) {
      billing.address.postal_code = postalCode;
    }
    let response;
    let body;
    try {
      // A plain-text JSON body keeps this a "simple" cross-origin request (no preflight),
      // like localstripe's own calls.
      response = await fetch(
        `${LOCALSTRIPE_BASE_API}/v1/payment_intents/${match[1]}/_confirm_card`,
        {method: 'POST', body: JSON.stringify({
          key: apiKey, client_secret: clientSecret, card, billing_details: billing,
        })});
      body = await response.json().catch(() => ({}));
    } catch (err) {
      return {error: {type: 'api_connection_error',
                      message: 'Could not reach the payment server. Please try again.'}};
    }
    if (!response.ok || body.error) {
      return {error: body.error || {type: 'api_error',
                                    message: `Unexpected payment server answer ${response.status}.`}};
    }
    return {paymentIntent: body};
  }

  function stripeJsShape(result) {
    // localstripe's 3D Secure flow answers a failed authentication with a PaymentIntent
    // back in requires_payment_method, and a decline with a bare error; Stripe.js answers
    // both with an error.
    if (result.paymentIntent && result.paymentIntent.status === 'requires_payment_method') {
      const failure = result.paymentIntent.last_payment_error || {};
      return {error: {
        type: 'invalid_request_error',
        code: failure.code || 'payment_intent_authentication_failure',
        message: failure.message ||
          'We are unable to authenticate your payment method. Please choose a different ' +
          'payment method and try again.',
        payment_intent: result.paymentIntent,
      }};
    }
    if (result.error && result.error.code === 'card_declined') {
      result.error.type = 'card_error';
    }
    return result;
  }

  window.Stripe = function (apiKey, options) {
    const stripe = localstripeFactory(apiKey, options);
    const authenticate = stripe.confirmCardPayment;  // localstripe: 3DS modal only
    stripe.confirmCardPayment = async function (clientSecret, data) {
      const paymentMethod = (data && data.payment_method) || null;
      if (!paymentMethod || !(paymentMethod.card instanceof Element)) {
        return authenticate(clientSecret, data);
      }
      const result = await confirmWithCard(apiKey, clientSecret, paymentMethod);
      if (result.paymentIntent && result.paymentIntent.status === 'requires_action') {
        return stripeJsShape(await authenticate(clientSecret, data));
      }
      return result;
    };
    return stripe;
  };

  console.log('localstripe (Global Store): confirmCardPayment takes the card Element.');
})();
