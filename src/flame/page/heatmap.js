/* flameshot-node FlameScope heat map page script (embedded at build time).
 * The data (src/flame/heatmap.c) carries the distinct stacks (name ids,
 * root first) and, per non-empty cell (column * rows + row), triples of
 * (stack id, weight, samples). Selecting cells sums exactly those triples
 * and draws their flame graph with flame.js's view. window.__heat says
 * what is selected, for the browser tests. */
'use strict';
(function () {
  const CH = 8;
  /* canvases wider than 32767 px fail to draw: long recordings get narrower columns */
  const MAX_W = 30000;
  const FG = window.FlameGraph;

  function HeatMap(root, data) {
    this.data = data;
    this.rows = data.rows;
    this.cols = data.cols;
    this.cw = Math.max(2, Math.min(14, Math.floor(MAX_W / Math.max(this.cols, 1))));
    this.index = new Map(); /* cell -> offset of its entry count in data.cells */
    this.cellWeight = new Map();
    this.cellSamples = new Map();
    let max = 0;
    const c = data.cells;
    for (let i = 0; i < c.length;) {
      const cell = c[i], k = c[i + 1];
      let w = 0, n = 0;
      for (let j = 0; j < k; j++) {
        w += c[i + 2 + 3 * j + 1];
        n += c[i + 2 + 3 * j + 2];
      }
      this.index.set(cell, i + 1);
      this.cellWeight.set(cell, w);
      this.cellSamples.set(cell, n);
      if (w > max) max = w;
      i += 2 + 3 * k;
    }
    this.max = max;
    this.build(root);
    this.drawHeat();
    this.select(0, this.rows * this.cols - 1);
    this.ready = true;
  }

  HeatMap.prototype.build = function (root) {
    const d = this.data, el = FG.el;
    root.appendChild(el('h1', 'title', d.title || 'Heat map'));
    if (d.subtitle) root.appendChild(el('p', 'sub', d.subtitle));
    root.appendChild(el('p', 'help',
      'Columns are seconds since the start of the recording, rows the offset within the second (' +
      this.rows + ' rows of ' + (1000 / this.rows) + ' ms, 0 ms at the top); darker cells hold more ' +
      (d.unit || 'samples') + '. Select a range: click its start cell, then shift-click its end cell ' +
      '(or press on the start cell and drag to the end cell). The range runs in time order from the ' +
      'start of the first cell to the end of the last; its flame graph is drawn below.'));
    const wrap = el('div', 'heatwrap');
    this.canvas = el('canvas', 'heat');
    wrap.appendChild(this.canvas);
    root.appendChild(wrap);
    this.hoverEl = el('div', 'details', ' ');
    root.appendChild(this.hoverEl);
    this.rangeEl = el('p', 'range');
    root.appendChild(this.rangeEl);
    this.fg = el('div', 'flamegraph');
    root.appendChild(this.fg);
    const cv = this.canvas;
    cv.addEventListener('mousedown', (e) => {
      const c = this.cellAt(e);
      if (c < 0) return;
      if (e.shiftKey && this.anchor !== undefined) {
        this.select(this.anchor, c);
      } else {
        this.anchor = c;
        this.dragging = true;
      }
    });
    cv.addEventListener('mouseup', (e) => {
      if (!this.dragging) return;
      this.dragging = false;
      const c = this.cellAt(e);
      this.select(this.anchor, c < 0 ? this.anchor : c);
    });
    cv.addEventListener('mousemove', (e) => {
      const c = this.cellAt(e);
      if (c < 0) return;
      this.hoverEl.textContent = this.cellLabel(c) + ': ' + this.amount(this.cellSamples.get(c) || 0, this.cellWeight.get(c) || 0);
    });
  };

  HeatMap.prototype.cellLabel = function (c) {
    const col = Math.floor(c / this.rows), row = c % this.rows;
    return 'second ' + col + ', ' + (row * 1000 / this.rows).toFixed(0) + ' ms';
  };

  // "7 samples" when the weight is the count, else "7 samples, 17 MB"-like:
  // the count of events and what they weigh in the event's unit
  HeatMap.prototype.amount = function (samples, weight) {
    const unit = this.data.unit || 'samples';
    const n = FG.fmt(samples) + (samples === 1 ? ' sample' : ' samples');
    return unit === 'samples' && weight === samples ? n : n + ' weighing ' + FG.fmt(weight) + ' ' + unit;
  };

  HeatMap.prototype.cellAt = function (e) {
    const r = this.canvas.getBoundingClientRect();
    const col = Math.floor((e.clientX - r.left) / this.cw), row = Math.floor((e.clientY - r.top) / CH);
    if (col < 0 || col >= this.cols || row < 0 || row >= this.rows) return -1;
    return col * this.rows + row;
  };

  /* The centre of a cell in client coordinates (for the tests' clicks). */
  HeatMap.prototype.cellCenter = function (col, row) {
    this.canvas.scrollIntoView();
    const r = this.canvas.getBoundingClientRect();
    return { x: r.left + col * this.cw + this.cw / 2, y: r.top + row * CH + CH / 2 };
  };

  HeatMap.prototype.drawHeat = function () {
    const cv = this.canvas, dpr = window.devicePixelRatio || 1;
    const W = this.cols * this.cw, H = this.rows * CH;
    cv.style.width = W + 'px';
    cv.style.height = H + 'px';
    cv.width = Math.round(W * dpr);
    cv.height = Math.round(H * dpr);
    const g = cv.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = '#f2f2f2';
    g.fillRect(0, 0, W, H);
    for (const [cell, w] of this.cellWeight) {
      const col = Math.floor(cell / this.rows), row = cell % this.rows;
      const t = this.max ? w / this.max : 0;
      g.fillStyle = 'rgb(' + Math.round(255 - 80 * t) + ',' + Math.round(225 * (1 - t)) + ',' + Math.round(200 * (1 - t)) + ')';
      g.fillRect(col * this.cw, row * CH, Math.max(this.cw - 1, 1), CH - 1);
    }
    if (this.sel) {
      g.strokeStyle = 'rgb(0,90,200)';
      g.lineWidth = 2;
      for (let c = this.sel.from; c <= this.sel.to; c++) {
        if (!this.cellWeight.has(c) && (this.sel.to - this.sel.from) > 5000) continue;
        const col = Math.floor(c / this.rows), row = c % this.rows;
        g.strokeRect(col * this.cw + 1, row * CH + 1, Math.max(this.cw - 3, 1), CH - 3);
      }
    }
  };

  /* Sums the stacks of cells a..b (either order) and draws their graph. */
  HeatMap.prototype.select = function (a, b) {
    const from = Math.min(a, b), to = Math.max(a, b), c = this.data.cells;
    const byStack = new Map();
    let samples = 0, weight = 0;
    for (const [cell, off] of this.index) {
      if (cell < from || cell > to) continue;
      const k = c[off];
      for (let j = 0; j < k; j++) {
        const sid = c[off + 1 + 3 * j], w = c[off + 2 + 3 * j];
        byStack.set(sid, (byStack.get(sid) || 0) + w);
        weight += w;
        samples += c[off + 3 + 3 * j];
      }
    }
    const ms = 1000 / this.rows;
    const startMs = Math.floor(from / this.rows) * 1000 + (from % this.rows) * ms;
    const endMs = Math.floor(to / this.rows) * 1000 + (to % this.rows + 1) * ms;
    this.sel = { from: from, to: to, samples: samples, weight: weight, startMs: startMs, endMs: endMs };
    this.rangeEl.textContent = 'Range ' + (startMs / 1000).toFixed(3) + ' s to ' + (endMs / 1000).toFixed(3) +
      ' s (' + this.cellLabel(from) + ' to ' + this.cellLabel(to) + ' inclusive): ' + this.amount(samples, weight);
    this.drawHeat();
    this.fg.textContent = '';
    const d = this.data;
    FG.render(this.fg, {
      kind: 'flame', title: 'Flame graph of the range', unit: d.unit, icicle: d.icicle,
      subtitle: this.rangeEl.textContent, stride: 3,
      ...this.tree(byStack, weight, d.minShare || 1e-4),
    });
  };

  /* The call tree of the selected stacks as flamepage.c writes it:
   * preorder, children by name, frames under minShare merged. */
  HeatMap.prototype.tree = function (byStack, total, minShare) {
    const names = this.data.names, stacks = this.data.stacks;
    const root = { name: -1, w: 0, kids: new Map() };
    for (const [sid, w] of byStack) {
      root.w += w;
      let n = root;
      for (const id of stacks[sid]) {
        let k = n.kids.get(id);
        if (!k) n.kids.set(id, (k = { name: id, w: 0, kids: new Map() }));
        k.w += w;
        n = k;
      }
    }
    const outNames = ['[merged]', 'all'], remap = new Map(), nodes = [];
    const thr = Math.floor(minShare * total);
    const merged = { frames: 0, blocks: 0, weight: 0, minShare: minShare };
    const size = (n) => { let s = 1; for (const k of n.kids.values()) s += size(k); return s; };
    const walk = (n, depth) => {
      let idx = 1;
      if (n.name >= 0) {
        if (!remap.has(n.name)) { remap.set(n.name, outNames.length); outNames.push(names[n.name]); }
        idx = remap.get(n.name);
      }
      nodes.push(idx, depth, n.w);
      const kids = [...n.kids.values()].sort((x, y) => (names[x.name] < names[y.name] ? -1 : names[x.name] > names[y.name] ? 1 : 0));
      let mw = 0;
      for (const k of kids) {
        if (k.w >= thr && k.w > 0) walk(k, depth + 1);
        else if (k.w > 0) { mw += k.w; merged.frames += size(k); }
      }
      if (mw) { nodes.push(0, depth + 1, mw); merged.blocks++; merged.weight += mw; }
    };
    if (total) walk(root, 0);
    return { names: outNames, nodes: nodes, total: total, merged: merged };
  };

  function boot() {
    const root = FG.el('div', 'heatmap');
    document.body.appendChild(root);
    const h = new HeatMap(root, FG.readData());
    window.__heat = h;
    document.body.dataset.ready = '1';
  }

  window.HeatMap = { boot: boot };
})();
