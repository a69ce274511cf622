// Two components: one with an open shadow root (the recorder can read it),
// one with a closed shadow root (nothing outside it can).
function fill(root, text, color) {
  var box = document.createElement('div');
  box.style.cssText = 'padding: 16px; border: 2px solid ' + color + '; border-radius: 8px; width: 320px; height: 60px;';
  box.textContent = text;
  root.appendChild(box);
}
customElements.define('bank-card', class extends HTMLElement {
  connectedCallback() { if (!this.shadowRoot) fill(this.attachShadow({ mode: 'open' }), 'An open shadow root: staff see this card', '#1e88e5'); }
});
customElements.define('sealed-card', class extends HTMLElement {
  connectedCallback() { if (!this._done) { this._done = true; fill(this.attachShadow({ mode: 'closed' }), 'A closed shadow root: nobody outside can read this', '#c62828'); } }
});
