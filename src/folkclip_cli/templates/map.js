(function(){
  var tip = document.getElementById('tip');
  document.querySelectorAll('svg.map circle').forEach(function(c){
    var t = c.querySelector('title');
    if (t) { c.setAttribute('data-tip', t.textContent); t.remove(); }
  });
  document.querySelectorAll('svg.map').forEach(function(s){
    s.addEventListener('mousemove', function(e){
      var c = e.target;
      if (c.tagName !== 'circle') { tip.style.display = 'none'; return; }
      tip.textContent = c.getAttribute('data-tip');
      tip.style.display = 'block';
      tip.style.left = (e.pageX + 12) + 'px';
      tip.style.top = (e.pageY + 12) + 'px';
    });
    s.addEventListener('mouseleave', function(){ tip.style.display = 'none'; });
  });
  document.querySelectorAll('.legend li').forEach(function(li){
    li.addEventListener('click', function(){
      var off = li.classList.toggle('off'), m = li.parentNode.getAttribute('data-map');
      document.querySelectorAll('#' + m + ' circle[data-g="' + li.getAttribute('data-g') + '"]')
        .forEach(function(c){ c.classList.toggle('hid', off); });
    });
  });
})();
