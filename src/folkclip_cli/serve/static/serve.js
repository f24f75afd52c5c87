// The folkclip serve page: search, your tune, map and tune views over the JSON API.
// Text from the index is always set with textContent (never parsed as HTML).
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var current = null;  // the tune playing: {synth, btn}

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function api(method, url, body) {
    var opts = {method: method, headers: {'Accept': 'application/json'}};
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        return {ok: r.ok, status: r.status, data: data};
      });
    });
  }

  function show(pane) {
    document.querySelectorAll('section.pane').forEach(function (s) {
      s.classList.toggle('on', s.id === pane);
    });
    document.querySelectorAll('nav.tabs button').forEach(function (b) {
      b.classList.toggle('on', b.getAttribute('data-pane') === pane);
    });
    if (pane === 'map') loadMap();
  }

  // ------------------------------------------------------------ notation and sound
  function notate(target, abc, compact) {
    target.textContent = '';
    var opts = {responsive: 'resize', add_classes: true};
    if (compact) {  // a card: title shown above; no history, notes or source lines
      abc = abc.replace(/^[TBDFHNSZ]:.*(\r?\n|$)/mg, '');
      opts = {add_classes: true, scale: 0.75, staffwidth: 820, paddingtop: 0, paddingbottom: 0};
    }
    var objs = ABCJS.renderAbc(target, abc, opts);
    return objs && objs.length ? objs[0] : null;
  }

  function stop() {
    if (!current) return;
    current.synth.stop();
    current.btn.textContent = '▶ play';
    current.btn.removeAttribute('data-state');
    current = null;
  }

  function play(btn, visualObj) {
    if (current && current.btn === btn) { stop(); return; }
    stop();
    if (!visualObj || !ABCJS.synth.supportsAudio()) { btn.textContent = 'no audio'; return; }
    var synth = new ABCJS.synth.CreateSynth();
    var me = {synth: synth, btn: btn};
    current = me;
    btn.textContent = '… loading';
    synth.init({visualObj: visualObj, options: {soundFontUrl: '/soundfont/',
      onEnded: function () { if (current === me) stop(); }}})
      .then(function () { return synth.prime(); })
      .then(function () {
        if (current !== me) return;
        synth.start();
        btn.textContent = '■ stop';
        btn.setAttribute('data-state', 'playing');
      })
      .catch(function (err) {
        if (current === me) current = null;
        btn.textContent = '▶ play';
        console.warn('playback failed', err);
      });
  }

  function playButton(visualObj) {
    var b = el('button', 'play', '▶ play');
    b.addEventListener('click', function () { play(b, visualObj); });
    return b;
  }

  // ------------------------------------------------------------ tune cards
  function meta(hit) {
    var parts = [hit.type, hit.key, hit.meter].filter(function (x) { return x; });
    if (typeof hit.score === 'number') parts.push('score ' + hit.score.toFixed(3));
    return parts.join(' · ');
  }

  function tuneLink(hit) {
    var a = el('a', 'tune', hit.title || '(untitled)');
    a.setAttribute('data-id', hit.tune_id);
    a.addEventListener('click', function () { openTune(hit.tune_id); });
    return a;
  }

  function card(hit, withNotation) {
    var c = el('div', 'card');
    c.setAttribute('data-id', hit.tune_id);
    var h = el('h3');
    h.appendChild(tuneLink(hit));
    c.appendChild(h);
    c.appendChild(el('div', 'meta', meta(hit)));
    if (withNotation && hit.abc) {
      var n = el('div', 'notation');
      c.appendChild(n);
      c.appendChild(playButton(notate(n, hit.abc, true)));
    }
    return c;
  }

  function list(target, hits, withNotation, empty) {
    target.textContent = '';
    if (!hits.length) target.appendChild(el('p', 'muted', empty));
    hits.forEach(function (h) { target.appendChild(card(h, withNotation)); });
  }

  function errorText(res) {
    var d = res.data && res.data.detail;
    if (typeof d === 'string') return d;
    if (Array.isArray(d)) return d.map(function (e) { return e.msg; }).join('; ');
    return 'error ' + res.status;
  }

  // ------------------------------------------------------------ search
  var searchTimer = null, searchSeq = 0;
  function search() {
    var q = $('q').value.trim(), seq = ++searchSeq;
    if (!q) { $('results').textContent = ''; $('search-status').textContent = ''; return; }
    $('search-status').textContent = 'searching…';
    api('GET', '/api/search?k=10&q=' + encodeURIComponent(q)).then(function (res) {
      if (seq !== searchSeq) return;
      if (!res.ok) { $('search-status').textContent = errorText(res); return; }
      $('search-status').textContent = res.data.results.length + ' tunes';
      list($('results'), res.data.results, true, 'no tunes');
    });
  }

  // ------------------------------------------------------------ your tune
  function showProblems(res) {
    var box = $('problems');
    box.textContent = '';
    if (!res) return;
    box.appendChild(el('p', null, res.status === 413 ? 'Too long: ' + errorText(res)
                                                    : 'This ABC cannot be read:'));
    var ul = el('ul');
    (res.data.problems || []).forEach(function (p) {
      ul.appendChild(el('li', 'problem', (p.line ? 'line ' + p.line + ': ' : '') + p.reason));
    });
    if (!ul.children.length && res.status !== 413) ul.appendChild(el('li', 'problem', errorText(res)));
    box.appendChild(ul);
  }

  function suggestion(hit) {
    var li = el('li');
    var a = el('a', 'tune', hit.title);
    a.addEventListener('click', function () {
      if (hit.tune_id !== null && hit.tune_id !== undefined) { openTune(hit.tune_id); return; }
      $('q').value = hit.title; show('search'); search();
    });
    li.appendChild(a);
    li.appendChild(el('span', 'muted', ' ' + hit.score.toFixed(3)));
    if (hit.near_duplicate) li.appendChild(el('span', 'dup', 'near-duplicate'));
    return li;
  }

  // Names written by the title model (POST /api/suggest's "generated"): labelled as such,
  // each marked novel or an existing title (of some other tune).
  function generatedName(g) {
    var li = el('li', 'generated-name');
    li.appendChild(el('span', 'name', g.title));
    li.appendChild(el('span', 'gen-label', 'generated name — ' +
                      (g.novel ? 'novel' : 'an existing title')));
    var facts = g.bits.toFixed(1) + ' bits';
    if (typeof g.score === 'number') facts = g.score.toFixed(3) + ' · ' + facts;
    li.appendChild(el('span', 'muted', ' ' + facts));
    return li;
  }

  function showGenerated(box, ol, names) {
    ol.textContent = '';
    (names || []).forEach(function (g) { ol.appendChild(generatedName(g)); });
    box.hidden = !ol.children.length;
  }

  function lookup() {
    var abc = $('abc').value;
    if (!abc.trim()) return;
    $('mine-status').textContent = 'looking up…';
    showProblems(null);
    var vo = notate($('mine-notation'), abc);
    var btn = $('mine-play');
    btn.hidden = !vo;
    btn.onclick = function () { play(btn, vo); };
    Promise.all([api('POST', '/api/suggest', {abc: abc, k: 10}),
                 api('POST', '/api/similar', {abc: abc, k: 10})]).then(function (r) {
      var sug = r[0], sim = r[1];
      $('suggestions').textContent = '';
      showGenerated($('generated'), $('generated-names'), []);
      $('mine-similar').textContent = '';
      if (!sug.ok) {
        $('mine-status').textContent = '';
        $('mine-notation').textContent = '';
        btn.hidden = true;
        showProblems(sug);
        return;
      }
      $('mine-status').textContent = '';
      sug.data.results.forEach(function (h) { $('suggestions').appendChild(suggestion(h)); });
      showGenerated($('generated'), $('generated-names'), sug.data.generated);
      if (sim.ok) list($('mine-similar'), sim.data.results, false, 'no similar tunes');
    });
  }

  // ------------------------------------------------------------ one tune
  function openTune(id) {
    api('GET', '/api/tunes/' + encodeURIComponent(id)).then(function (res) {
      var view = $('tune-view');
      view.textContent = '';
      $('tab-tune').hidden = false;
      show('tune');
      if (!res.ok) { view.appendChild(el('p', 'problems', errorText(res))); return; }
      var t = res.data;
      view.appendChild(el('h2', null, t.title || '(untitled)'));
      view.appendChild(el('div', 'meta', meta(t) + (t.source ? ' · ' + t.source : '')));
      var n = el('div', 'notation');
      view.appendChild(n);
      view.appendChild(playButton(notate(n, t.abc)));
      var pre = el('pre', null, t.abc);
      view.appendChild(pre);
      api('POST', '/api/similar', {tune_id: t.tune_id !== undefined ? t.tune_id : id, k: 10})
        .then(function (s) {
          if (s.ok) list($('tune-similar'), s.data.results, false, 'no similar tunes');
        });
    });
  }

  // ------------------------------------------------------------ map
  var mapLoaded = false;
  function loadMap() {
    if (mapLoaded) return;
    mapLoaded = true;
    api('GET', '/api/map').then(function (res) { if (res.ok) drawMap(res.data); });
  }

  function drawMap(data) {
    var NS = 'http://www.w3.org/2000/svg', size = 640, pad = 12, pts = data.points;
    var xs = pts.map(function (p) { return p.x; }), ys = pts.map(function (p) { return p.y; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    var sx = (size - 2 * pad) / ((x1 - x0) || 1), sy = (size - 2 * pad) / ((y1 - y0) || 1);
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('class', 'map');
    svg.setAttribute('width', size); svg.setAttribute('height', size);
    svg.setAttribute('viewBox', '0 0 ' + size + ' ' + size);
    var legend = $('map-legend');
    legend.textContent = '';
    data.groups.forEach(function (g) {
      var li = el('li');
      var sw = el('span', 'sw');
      sw.style.background = g.color;
      li.appendChild(sw);
      li.appendChild(document.createTextNode(g.name));
      legend.appendChild(li);
    });
    var order = pts.slice().sort(function (a, b) { return b.group - a.group; });
    order.forEach(function (p) {
      var c = document.createElementNS(NS, 'circle');
      c.setAttribute('cx', (pad + (p.x - x0) * sx).toFixed(1));
      c.setAttribute('cy', (size - pad - (p.y - y0) * sy).toFixed(1));
      c.setAttribute('r', 3.5);
      c.setAttribute('fill', data.groups[p.group].color);
      c.setAttribute('data-id', p.tune_id);
      c.setAttribute('data-tip', (p.title || '(untitled)') + '\n' + (p.type || 'unknown'));
      c.addEventListener('click', function () { openTune(p.tune_id); });
      svg.appendChild(c);
    });
    var tip = $('tip');
    svg.addEventListener('mousemove', function (e) {
      var c = e.target;
      if (c.tagName !== 'circle') { tip.style.display = 'none'; return; }
      tip.textContent = c.getAttribute('data-tip');
      tip.style.display = 'block';
      tip.style.left = (e.pageX + 12) + 'px';
      tip.style.top = (e.pageY + 12) + 'px';
    });
    svg.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
    $('map-view').textContent = '';
    $('map-view').appendChild(svg);
    if (data.points.length < data.total) {
      $('map-view').appendChild(el('p', 'muted', data.points.length + ' of ' + data.total +
                                   ' tunes drawn (evenly thinned)'));
    }
  }

  // ------------------------------------------------------------ wiring
  document.querySelectorAll('nav.tabs button').forEach(function (b) {
    b.addEventListener('click', function () { show(b.getAttribute('data-pane')); });
  });
  $('q').addEventListener('input', function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 250);
  });
  $('q').addEventListener('keydown', function (e) { if (e.key === 'Enter') search(); });
  $('lookup').addEventListener('click', lookup);
  $('file').addEventListener('change', function () {
    var f = this.files[0];
    if (!f) return;
    var reader = new FileReader();
    reader.onload = function () { $('abc').value = reader.result; lookup(); };
    reader.readAsText(f);
  });
  window.folkclip = {openTune: openTune, search: search, lookup: lookup, show: show,
                     el: el, notate: notate, playButton: playButton, tuneLink: tuneLink,
                     errorText: errorText, generatedName: generatedName};
})();
