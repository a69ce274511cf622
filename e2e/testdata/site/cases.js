// Scripted privacy cases: values set by script or autofill, fields toggled
// out of type=password, content added later into masked and blocked places.
(function () {
  'use strict';
  var shadow = document.getElementById('c30').attachShadow({ mode: 'open' });
  shadow.innerHTML = '<p>shadow-c30</p>';
  var host = document.getElementById('c31host').attachShadow({ mode: 'open' });
  host.innerHTML = '<input id="c31" type="text">';
  document.getElementById('c27-show').addEventListener('click', function () {
    document.getElementById('c27').type = 'text';
  });
  window.runCases = function () {
    document.getElementById('c24').value = 'script-c24';
    document.getElementById('c25').value = 'script-hidden-c25';
    var card = document.getElementById('c26');
    card.value = 'autofill-c26';
    card.dispatchEvent(new Event('input', { bubbles: true }));
    var later = document.createElement('span');
    later.textContent = 'later-mask-c28';
    document.getElementById('c28').appendChild(later);
    var blocked = document.createElement('span');
    blocked.textContent = 'later-block-c29';
    document.getElementById('c29').appendChild(blocked);
    var opt = document.createElement('option');
    opt.textContent = 'later-option-c40';
    document.getElementById('c13').appendChild(opt);
    document.getElementById('c15').firstChild.data = 'changed-c42';
    var added = document.createElement('input');
    added.value = 'added-later-c53';
    added.setAttribute('value', 'added-later-c53');
    document.getElementById('c53box').appendChild(added);
    document.getElementById('c54').value = 'script-ta-c54';
    document.getElementById('c55').selectedIndex = 1;
    document.getElementById('c57').value = 'output-later-c57';
    var dl = document.createElement('option');
    dl.value = 'datalist-later-c58';
    document.getElementById('c58list').appendChild(dl);
    document.getElementById('c59').srcdoc = '<p>page text in a frame is shared</p><input value="srcdoc-later-input-c59">';
    var done = document.createElement('p');
    done.id = 'done';
    done.textContent = 'all-cases-done';
    document.body.appendChild(done);
  };
  document.getElementById('share-button').addEventListener('click', function () { window.Tomoni.open(); });
})();
