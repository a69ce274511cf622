// Demo bank behaviour: the screen-sharing button, a client-side login
// (this is a demo: nothing is checked or sent anywhere), and the PIN keypad.
(function () {
  'use strict';

  function withTomoni(fn) {
    if (window.Tomoni) return fn(window.Tomoni);
    document.addEventListener('tomoni:ready', function () { fn(window.Tomoni); }, { once: true });
  }

  document.querySelectorAll('[data-action="share"]').forEach(function (b) {
    b.addEventListener('click', function () { withTomoni(function (t) { t.open(); }); });
  });

  var login = document.getElementById('login-form');
  if (login) {
    login.addEventListener('submit', function (e) {
      e.preventDefault();
      location.href = 'account.html';
    });
  }

  var transfer = document.getElementById('transfer-form');
  if (transfer) transfer.addEventListener('submit', function (e) { e.preventDefault(); });

  var contact = document.getElementById('contact-form');
  if (contact) {
    contact.addEventListener('submit', function (e) {
      e.preventDefault();
      document.getElementById('contact-done').hidden = false;
    });
  }

  // On-screen PIN keypad with shuffled digits, as many banks use against keyloggers.
  var pad = document.getElementById('keypad');
  if (pad) {
    var digits = [];
    var dots = document.getElementById('pin-dots');
    var open = document.getElementById('pin-open');
    var shown = function () { dots.textContent = digits.map(function () { return '●'; }).join(''); };
    var keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'];
    for (var i = keys.length - 1; i > 0; i--) { var j = Math.floor(Math.random() * (i + 1)); var k = keys[i]; keys[i] = keys[j]; keys[j] = k; }
    keys.concat(['訂正', '閉じる']).forEach(function (k) {
      var b = document.createElement('button');
      b.type = 'button';
      b.textContent = k;
      b.dataset.key = k;
      b.addEventListener('click', function () {
        if (k === '訂正') digits.pop();
        else if (k === '閉じる') { pad.hidden = true; open.hidden = false; }
        else if (digits.length < 4) digits.push(k);
        shown();
      });
      pad.appendChild(b);
    });
    open.addEventListener('click', function () { pad.hidden = false; open.hidden = true; });
  }
})();
