/* attnlab attention explorer: plain JS, no dependencies.
 *
 * Two modes, one file:
 *  - live   (served by `attnlab serve`): the form posts to /api/explain and draws the answer;
 *  - offline (viz/html.py): the page embeds the same answer in <script id="attnlab-data"> and draws it.
 *
 * The answer follows serve/explain.py's contract: {task, input, result, attention: [{name, layers
 * (layers × heads × T_q × T_k), q_tokens, k_tokens, title?}]}. Views: heatmap (one layer; selected heads
 * averaged), head view (bertviz style: query tokens left, key tokens right, one colour per head, lines as
 * strong as the weight) and model view (layers × heads grid of small head views). Text from the model or
 * the user is only ever set with textContent, never parsed as HTML.
 */
(function () {
  "use strict";

  var HEAD_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#7b4173", "#3182bd"];
  var VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  var SVGNS = "http://www.w3.org/2000/svg";
  var MIN_LINE = 0.01;  // lines fainter than this are not drawn (they would be invisible anyway)

  function headColor(h) { return HEAD_COLORS[h % HEAD_COLORS.length]; }

  function viridis(t) {
    t = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
    var i = Math.min(Math.floor(t), VIRIDIS.length - 2), f = t - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + f * (b[k] - a[k])); }).join(",") + ")";
  }

  function el(tag, props) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        if (k === "text") node.textContent = props[k];
        else if (k === "cls") node.className = props[k];
        else node.setAttribute(k, props[k]);
      });
    }
    for (var i = 2; i < arguments.length; i++) if (arguments[i]) node.appendChild(arguments[i]);
    return node;
  }

  function sv(tag, attrs, text) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function textWidth(tokens) {
    var n = 0;
    tokens.forEach(function (t) { n = Math.max(n, String(t).length); });
    return Math.min(170, 12 + 7.5 * n);
  }

  // ------------------------------------------------------------------------------------------ result

  function renderResult(box, data, onPick) {
    clear(box);
    var r = data.result || {};
    var card = el("div", { cls: "card", id: "result-card" });
    card.appendChild(el("h2", { text: "Result" }));
    var meta = el("div");
    meta.appendChild(el("span", { cls: "chip", text: data.task }));
    if (data.run) meta.appendChild(el("span", { cls: "chip", text: data.run }));
    if (data.elapsed_ms !== undefined) meta.appendChild(el("span", { cls: "chip", text: data.elapsed_ms + " ms" }));
    card.appendChild(meta);
    card.appendChild(el("div", { cls: "muted", text: "input: " + data.input }));
    var shown = false;
    if (r.label !== undefined) {
      var p = Number(r.probability || 0);
      var bar = el("span", { cls: "prob" }), fill = el("span");
      fill.style.width = (100 * p).toFixed(1) + "%";
      bar.appendChild(fill);
      card.appendChild(el("div", null, el("span", { cls: "label", id: "label", text: String(r.label) }),
        el("span", { cls: "muted", text: "  " + (100 * p).toFixed(1) + "%" }), bar));
      var weights = r.weights;
      var pooling = (data.attention || []).filter(function (m) { return m.name === "pooling"; })[0];
      var tokens = r.tokens || (pooling ? pooling.k_tokens : null);
      if (!weights && pooling) weights = pooling.layers[0][0][0];
      if (tokens && weights) card.appendChild(shadedTokens(tokens, weights));
      shown = true;
    }
    if (r.text !== undefined && r.label === undefined) {
      card.appendChild(el("div", { cls: "output", id: "output", text: r.text }));
      shown = true;
    }
    if (r.n_best && r.n_best.length > 1) {
      card.appendChild(el("div", { cls: "muted", text: "n-best (beam " + (r.beam || r.n_best.length) +
        ") — click one to see its attention" }));
      var ol = el("ol", { cls: "nbest", id: "nbest" });
      r.n_best.forEach(function (h, i) {
        var li = el("li", null, el("span", { text: h.text }), el("span", { cls: "score", text: Number(h.score).toFixed(3) }));
        if (i === (r.hypothesis || 0)) li.className = "shown";
        li.addEventListener("click", function () { if (onPick) onPick(i); });
        ol.appendChild(li);
      });
      card.appendChild(ol);
    }
    if (!shown) card.appendChild(el("pre", { text: JSON.stringify(r, null, 2) }));
    box.appendChild(card);
  }

  function shadedTokens(tokens, weights) {
    var max = Math.max.apply(null, weights.concat([1e-9]));
    var div = el("div", { cls: "shaded", id: "shaded" });
    tokens.forEach(function (t, i) {
      var w = (weights[i] || 0) / max;
      var span = el("span", { cls: "tok", title: "attention " + Number(weights[i] || 0).toFixed(4), text: String(t) });
      span.style.background = "rgba(255, 140, 0, " + (0.08 + 0.85 * w).toFixed(3) + ")";
      div.appendChild(span);
      div.appendChild(document.createTextNode(" "));
    });
    return div;
  }

  // ------------------------------------------------------------------------------------------ attention

  function renderAttention(box, maps) {
    clear(box);
    var card = el("div", { cls: "card", id: "attention-card" });
    card.appendChild(el("h2", { text: "Attention" }));
    box.appendChild(card);
    if (!maps || !maps.length) {
      card.appendChild(el("div", { cls: "muted", text: "This model has no attention to show." }));
      return;
    }
    var tabs = el("div", { cls: "tabs", id: "map-tabs" }), body = el("div");
    card.appendChild(tabs);
    card.appendChild(body);
    var buttons = maps.map(function (m, i) {
      var b = el("button", { cls: "plain", type: "button", "data-map": m.name, text: m.title || m.name });
      b.addEventListener("click", function () { select(i); });
      tabs.appendChild(b);
      return b;
    });
    function select(i) {
      buttons.forEach(function (b, j) { b.className = "plain" + (i === j ? " on" : ""); });
      new MapPanel(body, maps[i]);
    }
    // Open the most telling map first: cross-attention (or the RNN's), else the first one.
    var first = 0;
    maps.forEach(function (m, i) { if ((m.name === "cross" || m.name === "rnn") && first === 0) first = i; });
    select(first);
  }

  function MapPanel(box, map) {
    clear(box);
    this.map = map;
    this.L = map.layers.length;
    this.H = map.layers[0].length;
    this.layer = this.L - 1;  // the last layer: closest to the output
    this.heads = [];
    for (var h = 0; h < this.H; h++) this.heads.push(true);
    this.view = this.L * this.H > 1 ? "head" : "heatmap";
    var self = this;
    var controls = el("div", { cls: "controls", id: "controls" });
    var viewSel = el("select", { id: "view-select", "aria-label": "view" });
    [["heatmap", "heatmap"], ["head", "head view"], ["model", "model view"]].forEach(function (v) {
      if (v[0] === "model" && self.L * self.H === 1) return;
      var o = el("option", { value: v[0], text: v[1] });
      if (v[0] === self.view) o.selected = true;
      viewSel.appendChild(o);
    });
    viewSel.addEventListener("change", function () { self.view = viewSel.value; self.draw(); });
    controls.appendChild(el("label", null, document.createTextNode("view "), viewSel));
    var layerSel = el("select", { id: "layer-select", "aria-label": "layer" });
    for (var l = 0; l < this.L; l++) layerSel.appendChild(el("option", { value: String(l), text: "layer " + (l + 1) }));
    layerSel.value = String(this.layer);
    layerSel.addEventListener("change", function () { self.layer = Number(layerSel.value); self.draw(); });
    this.layerSel = layerSel;
    this.layerLabel = el("label", null, layerSel);
    controls.appendChild(this.layerLabel);
    this.headBox = el("span", { cls: "heads", id: "head-toggles" });
    this.headInputs = [];
    for (var k = 0; k < this.H; k++) {
      var cb = el("input", { type: "checkbox", "data-head": String(k), "aria-label": "head " + (k + 1) });
      cb.checked = true;
      cb.addEventListener("change", (function (kk, box_) {
        return function () { self.heads[kk] = box_.checked; self.draw(); };
      })(k, cb));
      var sw = el("span", { cls: "swatch" });
      sw.style.background = headColor(k);
      this.headInputs.push(cb);
      this.headBox.appendChild(el("label", null, cb, sw, document.createTextNode(String(k + 1))));
    }
    if (this.H > 1) {
      var all = el("button", { cls: "plain", type: "button", id: "heads-all", text: "all" });
      var none = el("button", { cls: "plain", type: "button", id: "heads-none", text: "none" });
      all.addEventListener("click", function () { self.setHeads(true); });
      none.addEventListener("click", function () { self.setHeads(false); });
      this.headBox.appendChild(all);
      this.headBox.appendChild(none);
    }
    controls.appendChild(el("span", null, document.createTextNode("heads "), this.headBox));
    this.viewSel = viewSel;
    this.controls = controls;
    box.appendChild(controls);
    this.canvas = el("div", { cls: "view", id: "view" });
    box.appendChild(this.canvas);
    this.legend = el("div", { cls: "legend", id: "legend" });
    box.appendChild(this.legend);
    this.draw();
  }

  MapPanel.prototype.setHeads = function (on) {
    for (var h = 0; h < this.H; h++) { this.heads[h] = on; this.headInputs[h].checked = on; }
    this.draw();
  };

  MapPanel.prototype.draw = function () {
    this.layerLabel.style.display = this.view === "model" || this.L === 1 ? "none" : "";
    this.headBox.parentNode.style.display = this.view === "model" || this.H === 1 ? "none" : "";
    clear(this.canvas);
    var m = this.map, sel = [];
    this.heads.forEach(function (on, h) { if (on) sel.push(h); });
    this.canvas.setAttribute("data-view", this.view);
    this.canvas.setAttribute("data-layer", String(this.layer));
    this.canvas.setAttribute("data-heads", sel.join(","));
    var shape = m.layers.length + " layer" + (m.layers.length > 1 ? "s" : "") + " × " + this.H + " head" +
      (this.H > 1 ? "s" : "") + " × " + m.q_tokens.length + " × " + m.k_tokens.length;
    if (this.view === "model") {
      this.canvas.appendChild(this.modelView());
      this.legend.textContent = shape + ". Rows are layers, columns heads; click one to open it in the head view.";
    } else if (this.view === "head") {
      this.canvas.appendChild(this.headView(sel));
      this.legend.textContent = shape + ". Left: who attends (queries); right: what is attended to (keys). " +
        "Hover a token to see only its lines.";
    } else {
      this.canvas.appendChild(this.heatmap(sel));
      this.legend.textContent = shape + (this.H > 1 ? ". Layer " + (this.layer + 1) + ", mean of the " +
        sel.length + " selected head" + (sel.length === 1 ? "" : "s") : ". Rows: queries; columns: keys") +
        ". Colour: 0 (dark) to " + this.vmax.toFixed(3) + " (yellow); hover a cell for its weight.";
    }
  };

  MapPanel.prototype.heatmap = function (sel) {
    var m = this.map, q = m.q_tokens, k = m.k_tokens, L = this.map.layers[this.layer];
    var cell = Math.max(12, Math.min(30, Math.floor(640 / Math.max(q.length, k.length, 1))));
    var left = textWidth(q), top = textWidth(k);
    var w = left + cell * k.length + 10, h = top + cell * q.length + 10;
    var s = sv("svg", { width: w, height: h, class: "heatmap", role: "img", "aria-label": "attention heatmap" });
    var mean = q.map(function (_, i) {
      return k.map(function (_, j) {
        var v = 0;
        sel.forEach(function (hh) { v += L[hh][i][j]; });
        return sel.length ? v / sel.length : 0;
      });
    });
    var vmax = 1e-9;  // colours span 0 .. the largest weight shown, as in the PNG heatmaps
    mean.forEach(function (r) { r.forEach(function (v) { vmax = Math.max(vmax, v); }); });
    this.vmax = vmax;
    k.forEach(function (t, j) {
      var x = left + cell * j + cell / 2 + 4;
      s.appendChild(sv("text", { x: x, y: top - 6, transform: "rotate(-60 " + x + " " + (top - 6) + ")",
        "text-anchor": "start", class: "tok" }, t));
    });
    q.forEach(function (t, i) {
      s.appendChild(sv("text", { x: left - 6, y: top + cell * i + cell / 2 + 4, "text-anchor": "end", class: "tok" }, t));
      for (var j = 0; j < k.length; j++) {
        var v = mean[i][j];
        var rect = sv("rect", { x: left + cell * j, y: top + cell * i, width: cell - 1, height: cell - 1,
          fill: viridis(v / vmax), class: "cell", "data-q": i, "data-k": j });
        rect.appendChild(sv("title", {}, t + " → " + k[j] + ": " + v.toFixed(4)));
        s.appendChild(rect);
      }
    });
    return s;
  };

  MapPanel.prototype.headView = function (sel) {
    var m = this.map, q = m.q_tokens, k = m.k_tokens, L = this.map.layers[this.layer];
    var row = 22, left = textWidth(q), gap = 220, right = textWidth(k), pad = 14;
    var n = Math.max(q.length, k.length);
    var x1 = left + 6, x2 = left + 6 + gap;
    var s = sv("svg", { width: left + gap + right + 20, height: pad * 2 + row * n, class: "head-view",
      role: "img", "aria-label": "attention head view", "data-layer": this.layer, "data-heads": sel.join(",") });
    var y = function (i) { return pad + row * i + row / 2; };
    var lines = sv("g", { class: "lines" });
    s.appendChild(lines);
    sel.forEach(function (h) {
      for (var i = 0; i < q.length; i++) {
        for (var j = 0; j < k.length; j++) {
          var w = L[h][i][j];
          if (w < MIN_LINE) continue;
          lines.appendChild(sv("line", { x1: x1, y1: y(i), x2: x2, y2: y(j), stroke: headColor(h),
            "stroke-width": 2, "stroke-opacity": Math.min(1, w).toFixed(3), class: "attn-line",
            "data-head": h, "data-q": i, "data-k": j }));
        }
      }
    });
    var all = lines.childNodes;
    function focus(attr, idx) {
      for (var c = 0; c < all.length; c++) {
        all[c].style.display = idx === null || all[c].getAttribute(attr) === String(idx) ? "" : "none";
      }
    }
    q.forEach(function (t, i) {
      var tx = sv("text", { x: left, y: y(i) + 4, "text-anchor": "end", class: "tok q-tok", "data-q": i }, t);
      tx.addEventListener("mouseenter", function () { tx.classList.add("focus"); focus("data-q", i); });
      tx.addEventListener("mouseleave", function () { tx.classList.remove("focus"); focus("data-q", null); });
      s.appendChild(tx);
    });
    k.forEach(function (t, j) {
      var tx = sv("text", { x: x2 + 6, y: y(j) + 4, "text-anchor": "start", class: "tok k-tok", "data-k": j }, t);
      tx.addEventListener("mouseenter", function () { tx.classList.add("focus"); focus("data-k", j); });
      tx.addEventListener("mouseleave", function () { tx.classList.remove("focus"); focus("data-k", null); });
      s.appendChild(tx);
    });
    return s;
  };

  MapPanel.prototype.modelView = function () {
    var self = this, m = this.map, q = m.q_tokens.length, k = m.k_tokens.length;
    var size = this.H > 8 ? 84 : 110, n = Math.max(q, k, 1);
    var grid = el("div", { cls: "model-view", id: "model-view" });
    grid.style.gridTemplateColumns = "48px repeat(" + this.H + ", " + (size + 2) + "px)";
    grid.appendChild(el("div"));
    for (var h = 0; h < this.H; h++) grid.appendChild(el("div", { cls: "hdr", text: "head " + (h + 1) }));
    var ratio = window.devicePixelRatio || 1;
    for (var l = 0; l < this.L; l++) {
      grid.appendChild(el("div", { cls: "hdr", text: "layer " + (l + 1) }));
      for (var hh = 0; hh < this.H; hh++) {
        var c = el("canvas", { cls: "cell", "data-layer": String(l), "data-head": String(hh),
          title: "layer " + (l + 1) + ", head " + (hh + 1) });
        c.width = size * ratio;
        c.height = size * ratio;
        c.style.width = size + "px";
        c.style.height = size + "px";
        var ctx = c.getContext("2d");
        ctx.scale(ratio, ratio);
        var W = this.map.layers[l][hh], step = (size - 12) / n, col = headColor(hh);
        ctx.strokeStyle = col;
        ctx.lineWidth = 1;
        for (var i = 0; i < q; i++) {
          for (var j = 0; j < k; j++) {
            var w = W[i][j];
            if (w < MIN_LINE) continue;
            ctx.globalAlpha = Math.min(1, w);
            ctx.beginPath();
            ctx.moveTo(16, 6 + step * (i + 0.5));
            ctx.lineTo(size - 16, 6 + step * (j + 0.5));
            ctx.stroke();
          }
        }
        ctx.globalAlpha = 1;
        ctx.fillStyle = "#9aa0a6";
        for (var a = 0; a < q; a++) ctx.fillRect(8, 6 + step * (a + 0.5) - 1, 6, 2);
        for (var b = 0; b < k; b++) ctx.fillRect(size - 14, 6 + step * (b + 0.5) - 1, 6, 2);
        c.addEventListener("click", (function (ll, h2) {
          return function () {
            self.layer = ll;
            self.layerSel.value = String(ll);
            for (var x = 0; x < self.H; x++) { self.heads[x] = x === h2; self.headInputs[x].checked = x === h2; }
            self.view = "head";
            self.viewSel.value = "head";
            self.draw();
          };
        })(l, hh));
        grid.appendChild(c);
      }
    }
    return grid;
  };

  function renderAll(data, onPick) {
    renderResult(document.getElementById("result"), data, onPick);
    renderAttention(document.getElementById("attention"), data.attention);
  }

  // ------------------------------------------------------------------------------------------ offline mode

  var embedded = document.getElementById("attnlab-data");
  if (embedded) {
    document.body.classList.add("offline");
    var data = JSON.parse(embedded.textContent);
    renderAll(data, null);
    window.attnlabData = data;
    return;
  }

  // ------------------------------------------------------------------------------------------ live mode

  var form = document.getElementById("query"), status = document.getElementById("status");
  var runSel = document.getElementById("run"), textBox = document.getElementById("text");
  var go = document.getElementById("go"), runs = [];
  var EXAMPLES = { translation: "esta es mi vida.", chat: "안녕하세요", classification: "a wonderful, moving film.",
    lm: "To be, or not to be" };

  function say(msg, isError) {
    status.textContent = msg;
    status.className = isError ? "error" : "";
  }

  function currentRun() { return runs[Number(runSel.value)] || runs[0]; }

  function onRunChange() {
    var r = currentRun();
    if (!r) return;
    document.getElementById("run-info").textContent = r.task + (r.arch ? " · " + r.arch : "");
    document.getElementById("search-opts").style.display = r.task === "translation" || r.task === "chat" ? "" : "none";
    textBox.placeholder = EXAMPLES[r.task] ? "e.g. " + EXAMPLES[r.task] : "Type some text…";
    if (r.limits) textBox.maxLength = r.limits.max_input_chars;
  }

  function submit(hypothesis) {
    var r = currentRun();
    if (!r) return;
    var options = {};
    if (r.task === "translation" || r.task === "chat") {
      var beam = Number(document.getElementById("beam").value) || 1;
      var nBest = Math.min(beam, Number(document.getElementById("n-best").value) || 1);
      options = { beam: beam, n_best: nBest };
      if (hypothesis) options.hypothesis = hypothesis;
    }
    go.disabled = true;
    say("running…", false);
    fetch("/api/explain", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ run: r.id, text: textBox.value, options: options })
    }).then(function (res) {
      return res.json().then(function (body) { return { ok: res.ok, status: res.status, body: body }; },
        function () { return { ok: false, status: res.status, body: { error: "HTTP " + res.status } }; });
    }).then(function (ans) {
      if (!ans.ok) { say("error: " + (ans.body.error || "HTTP " + ans.status), true); return; }
      say("", false);
      renderAll(ans.body, function (i) { submit(i); });
    }).catch(function () {
      say("error: the server did not answer", true);
    }).then(function () { go.disabled = false; });
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); submit(0); });
  textBox.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); submit(0); }
  });
  runSel.addEventListener("change", onRunChange);

  fetch("/api/runs").then(function (res) { return res.json(); }).then(function (list) {
    runs = list;
    list.forEach(function (r) {
      runSel.appendChild(el("option", { value: String(r.id), text: r.name + " (" + r.task + ")" }));
    });
    onRunChange();
    document.body.setAttribute("data-ready", "1");
  }).catch(function () { say("error: could not list the loaded runs", true); });
})();
