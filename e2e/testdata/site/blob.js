// An image the page builds itself: a blob: URL only this page can read.
fetch('blob-source.png').then(function (r) { return r.blob(); }).then(function (b) {
  document.getElementById('made-here').src = URL.createObjectURL(b);
});
