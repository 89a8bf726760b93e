/* Global Store: small progressive enhancements. No inline handlers anywhere (a
   Content-Security-Policy will forbid them); everything works without this file. */
(function () {
  "use strict";

  var placeholder = document.documentElement.getAttribute("data-placeholder");

  /* Product images come from Amazon and may fail (offline, removed): show the placeholder. */
  function useFallback(img) {
    if (!placeholder || img.getAttribute("data-fallback") === "1") {
      return; // never loop if the placeholder itself fails
    }
    img.setAttribute("data-fallback", "1");
    img.removeAttribute("srcset");
    img.src = placeholder;
    img.classList.add("is-placeholder");
  }

  // Image errors do not bubble, but they can be caught on the way down (capture phase).
  document.addEventListener("error", function (event) {
    var target = event.target;
    if (target && target.tagName === "IMG") {
      useFallback(target);
    }
  }, true);

  // Images that failed before this script ran fired their error event unheard.
  function sweepBrokenImages() {
    Array.prototype.forEach.call(document.images, function (img) {
      if (img.complete && img.naturalWidth === 0 && img.getAttribute("src")) {
        useFallback(img);
      }
    });
  }

  /* Gallery: thumbnails swap the main image instead of leaving the page. */
  function setUpGallery() {
    var main = document.getElementById("gallery-main");
    if (!main) {
      return;
    }
    var links = document.querySelectorAll("[data-gallery-image]");
    Array.prototype.forEach.call(links, function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var thumb = link.querySelector("img");
        main.removeAttribute("data-fallback");
        main.classList.remove("is-placeholder");
        main.src = link.getAttribute("data-gallery-image");
        Array.prototype.forEach.call(links, function (other) {
          other.removeAttribute("aria-current");
        });
        link.setAttribute("aria-current", "true");
        if (thumb && thumb.getAttribute("data-fallback") === "1") {
          useFallback(main); // already known to fail
        }
      });
    });
  }

  function ready() {
    sweepBrokenImages();
    setUpGallery();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
  // Late failures (slow hosts) are caught by the listener; one more sweep after load
  // covers images whose error fired while the page was still parsing.
  window.addEventListener("load", sweepBrokenImages);
})();
