/* Arbeidsro AS – small site script. Strictly functional: sets no cookies and
 * uses no storage, so it needs no consent. */
(function () {
  'use strict';

  // Mobile navigation toggle.
  var toggle = document.querySelector('.nav-toggle');
  var nav = document.getElementById('hovedmeny');
  if (toggle && nav) {
    toggle.addEventListener('click', function () {
      var open = nav.classList.toggle('open');
      toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    });
  }

  // Current year in the footer.
  var year = document.querySelector('[data-year]');
  if (year) year.textContent = String(new Date().getFullYear());

  // Contact form: prevent double submits.
  var form = document.querySelector('.contact-form');
  if (form) {
    form.addEventListener('submit', function () {
      var button = form.querySelector('button[type="submit"]');
      if (button) {
        button.disabled = true;
        button.textContent = 'Sender …';
      }
    });
  }
})();
