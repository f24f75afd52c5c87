// The "Play or hum" pane: record from the microphone, open a file or type bars, and show
// which tune it is (POST /api/identify). Recording uses WebAudio: the samples stay in this
// page until they are sent, as a 16 kHz mono WAV, to this server and nowhere else.
(function () {
  'use strict';
  var F = window.folkclip, $ = function (id) { return document.getElementById(id); };
  var el = F.el;
  var MAX_RECORD_S = 20, WAV_SR_HZ = 16000;
  var rec = null;  // the recording in progress: {ctx, stream, node, chunks, timer, t0}

  // ------------------------------------------------------------ sending a query
  function send(form, what) {
    $('id-status').textContent = 'identifying ' + what + '…';
    $('id-problems').textContent = '';
    fetch('/api/identify', {method: 'POST', body: form, headers: {'Accept': 'application/json'}})
      .then(function (r) {
        return r.json().catch(function () { return {}; })
          .then(function (data) { return {ok: r.ok, status: r.status, data: data}; });
      })
      .then(function (res) {
        $('id-status').textContent = '';
        if (!res.ok) {
          $('id-result').textContent = '';
          $('id-problems').textContent = F.errorText(res);
          return;
        }
        show(res.data.results, res.data.generated || []);
      })
      .catch(function (err) { $('id-status').textContent = 'failed: ' + err; });
  }

  function sendFile(blob, name) {
    var form = new FormData();
    form.append('file', blob, name);
    form.append('k', '5');
    send(form, name);
  }

  // ------------------------------------------------------------ answers
  function show(results, generated) {
    var box = $('id-result');
    box.textContent = '';
    if (!results.length && !(generated || []).length) {
      box.appendChild(el('p', 'muted', 'no answer'));
      return;
    }
    if (!results.length || results[0].kind !== 'identified') {
      box.appendChild(el('p', 'suggestion-note', 'No known tune matches. The model\'s title ' +
        'suggestions (names that fit the melody, not identifications):'));
      var ol = el('ol', 'suggest');
      results.forEach(function (s) {
        var li = el('li', 'suggestion');
        li.appendChild(el('span', null, s.title));
        li.appendChild(el('span', 'muted', ' ' + s.score.toFixed(3)));
        ol.appendChild(li);
      });
      box.appendChild(ol);
      if ((generated || []).length) {
        box.appendChild(el('h2', null, 'Generated names'));
        box.appendChild(el('p', 'muted', 'Written for this melody by the title model: ' +
                           'not identifications.'));
        var gl = el('ol', 'generated');
        generated.forEach(function (g) { gl.appendChild(F.generatedName(g)); });
        box.appendChild(gl);
      }
      return;
    }
    box.appendChild(identified(results[0]));
    if (results.length > 1) {
      box.appendChild(el('h2', null, 'Also possible'));
      results.slice(1).forEach(function (r) {
        var c = el('div', 'card');
        var h = el('h3');
        h.appendChild(F.tuneLink(r));
        c.appendChild(h);
        c.appendChild(el('div', 'meta', facts(r)));
        box.appendChild(c);
      });
    }
  }

  function facts(r) {
    return 'bars ' + r.bars[0] + '–' + r.bars[1] + ' · score ' + r.score.toFixed(2) +
      ' · confidence ' + Math.round(100 * r.confidence) + '%';
  }

  function identified(r) {
    var c = el('div', 'identified');
    c.setAttribute('data-id', r.tune_id);
    var h = el('h2');
    h.appendChild(F.tuneLink(r));
    c.appendChild(h);
    var others = r.titles.filter(function (t) { return t !== r.title; });
    if (others.length) c.appendChild(el('p', 'also', 'also known as: ' + others.join(' · ')));
    c.appendChild(el('div', 'meta', facts(r)));
    var n = el('div', 'notation');
    c.appendChild(n);
    fetch('/api/tunes/' + encodeURIComponent(r.tune_id))
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (t) {
        if (!t) return;
        var vo = F.notate(n, t.abc);
        highlight(vo, r.bar_index || r.bars);
        c.appendChild(F.playButton(vo));
      });
    return c;
  }

  // Marks the notes of written bars lo..hi (0-based; a pickup is bar 0, as folkclip counts:
  // a bar line ends a bar only when music came since the last one).
  function highlight(vo, range) {
    if (!vo || !range) return;
    var bar = 0, music = false, marked = 0;
    vo.lines.forEach(function (line) {
      if (!line.staff) return;
      (line.staff[0].voices[0] || []).forEach(function (e) {
        if (e.el_type === 'bar') {
          if (music) { bar += 1; music = false; }
          return;
        }
        if (e.el_type !== 'note') return;
        music = true;
        if (bar < range[0] || bar > range[1] || !e.abselem) return;
        (e.abselem.elemset || []).forEach(function (svg) { svg.classList.add('matched'); });
        marked += 1;
      });
    });
    vo.matchedNotes = marked;
  }

  // ------------------------------------------------------------ recording
  function startRecording() {
    var btn = $('rec');
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      $('rec-status').textContent = 'this browser cannot record';
      return;
    }
    navigator.mediaDevices.getUserMedia({audio: {echoCancellation: false, noiseSuppression: false,
                                                 autoGainControl: false}})
      .then(function (stream) {
        var Ctx = window.AudioContext || window.webkitAudioContext;
        var ctx = new Ctx();
        var src = ctx.createMediaStreamSource(stream);
        var node = ctx.createScriptProcessor(4096, 1, 1);
        rec = {ctx: ctx, stream: stream, node: node, chunks: [], t0: Date.now()};
        node.onaudioprocess = function (e) {
          if (rec) rec.chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
        };
        src.connect(node);
        node.connect(ctx.destination);
        btn.textContent = '■ stop';
        btn.setAttribute('data-state', 'recording');
        rec.timer = setInterval(function () {
          var s = (Date.now() - rec.t0) / 1000;
          $('rec-status').textContent = 'recording… ' + s.toFixed(0) + ' s';
          if (s >= MAX_RECORD_S) stopRecording();
        }, 250);
      })
      .catch(function (err) { $('rec-status').textContent = 'no microphone: ' + err.name; });
  }

  function stopRecording() {
    if (!rec) return;
    var r = rec;
    rec = null;
    clearInterval(r.timer);
    r.node.disconnect();
    r.stream.getTracks().forEach(function (t) { t.stop(); });
    var sr = r.ctx.sampleRate;
    r.ctx.close();
    var btn = $('rec');
    btn.textContent = '● record';
    btn.removeAttribute('data-state');
    var n = r.chunks.reduce(function (a, c) { return a + c.length; }, 0);
    $('rec-status').textContent = (n / sr).toFixed(1) + ' s recorded';
    var all = new Float32Array(n), at = 0;
    r.chunks.forEach(function (c) { all.set(c, at); at += c.length; });
    sendFile(wav(downsample(all, sr, WAV_SR_HZ)), 'recording.wav');
  }

  // Box-filter decimation to about WAV_SR_HZ (the server resamples properly; this only
  // keeps the upload small: 20 s are 640 KB).
  function downsample(x, sr, target) {
    var step = Math.max(1, Math.floor(sr / target));
    var out = new Float32Array(Math.floor(x.length / step));
    for (var i = 0; i < out.length; i++) {
      var s = 0;
      for (var j = 0; j < step; j++) s += x[i * step + j];
      out[i] = s / step;
    }
    out.rate = sr / step;
    return out;
  }

  function wav(x) {
    var rate = Math.round(x.rate), buf = new ArrayBuffer(44 + 2 * x.length);
    var v = new DataView(buf);
    function str(o, s) { for (var i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); }
    str(0, 'RIFF'); v.setUint32(4, 36 + 2 * x.length, true); str(8, 'WAVE');
    str(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
    v.setUint32(24, rate, true); v.setUint32(28, 2 * rate, true); v.setUint16(32, 2, true);
    v.setUint16(34, 16, true); str(36, 'data'); v.setUint32(40, 2 * x.length, true);
    for (var i = 0; i < x.length; i++) {
      var s = Math.max(-1, Math.min(1, x[i]));
      v.setInt16(44 + 2 * i, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Blob([buf], {type: 'audio/wav'});
  }

  // ------------------------------------------------------------ wiring
  $('rec').addEventListener('click', function () { if (rec) stopRecording(); else startRecording(); });
  $('id-file').addEventListener('change', function () {
    var f = this.files[0];
    if (f) sendFile(f, f.name);
  });
  $('id-go').addEventListener('click', function () {
    var abc = $('id-abc').value;
    if (!abc.trim()) return;
    var form = new FormData();
    form.append('abc', abc);
    form.append('k', '5');
    send(form, 'the typed bars');
  });
  F.identify = {show: show, highlight: highlight};
})();
