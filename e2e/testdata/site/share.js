document.getElementById('share-button').addEventListener('click', function () { window.Tomoni.open(); });
