// A chart drawn in a canvas, as balance graphs are.
var c = document.getElementById('chart').getContext('2d');
c.fillStyle = '#2a6';
c.fillRect(10, 10, 120, 100);
