/* flameshot-node flame graph (and differential flame graph) page script,
 * embedded into the binary at build time (tools/embed.sh). The data is a
 * JSON element written by src/flame/flamepage.c: frames in preorder as
 * (name, depth, weight[, base weight, gone base weight]). Names only ever
 * reach the page through textContent and canvas text: never as markup.
 * window.__flame is the view last drawn (its frames, state and ready flag),
 * for the browser tests. */
'use strict';
(function () {
  const ROW = 16;
  const HIGHLIGHT = 'rgb(230,0,230)';
  const MERGED = 'rgb(190,190,190)';

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fmt(n) {
    return Number(n).toLocaleString('en-US');
  }

  function pct(x, total) {
    return total ? (100 * x) / total : 0;
  }

  /* FNV-1a of the name: the same frame gets the same colour everywhere. */
  function hash(s) {
    let h = 2166136261;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 16777619) >>> 0;
    }
    return h;
  }

  /* flamegraph.pl's "hot" palette */
  function warm(name) {
    const h = hash(name);
    const a = (h & 0xff) / 255, b = ((h >>> 8) & 0xff) / 255, c = ((h >>> 16) & 0xff) / 255;
    return 'rgb(' + (205 + Math.round(50 * c)) + ',' + Math.round(230 * a) + ',' + Math.round(55 * b) + ')';
  }

  /* Frames with their offsets (in weight) from the preorder list. */
  function layout(data) {
    const n = data.nodes, s = data.stride || 3, frames = [], next = [0], last = [];
    let maxDepth = 0;
    for (let i = 0; i + s <= n.length; i += s) {
      const d = n[i + 1];
      const f = {
        i: frames.length, nameIdx: n[i], name: data.names[n[i]], merged: n[i] === 0,
        depth: d, x: next[d] || 0, w: n[i + 2], parent: d ? last[d - 1] : -1,
      };
      if (s === 5) {
        f.base = n[i + 3];
        f.gone = n[i + 4];
      }
      next[d] = f.x + f.w;
      next[d + 1] = f.x;
      last[d] = f.i;
      frames.push(f);
      if (d > maxDepth) maxDepth = d;
    }
    return { frames: frames, maxDepth: maxDepth };
  }

  function View(root, data) {
    this.root = root;
    this.data = data;
    this.unit = data.unit || 'samples';
    this.total = data.total || 0;
    this.diff = data.kind === 'diff';
    this.icicle = !!data.icicle;
    const l = layout(data);
    this.frames = l.frames;
    this.maxDepth = l.maxDepth;
    this.zoomed = 0;
    this.matchRe = null;
    this.matchedWeight = 0;
    this.matchedPct = 0;
    this.drawn = [];
    this.ready = false;
    if (this.diff) this.prepareDiff();
    this.build();
    this.draw();
    this.ready = true;
  }

  View.prototype.prepareDiff = function () {
    const bt = this.data.baseTotal || 0;
    let max = 0;
    for (const f of this.frames) {
      f.curShare = pct(f.w, this.total);
      f.baseShare = pct(f.base, bt);
      f.delta = f.curShare - f.baseShare;
      if (Math.abs(f.delta) > max) max = Math.abs(f.delta);
    }
    this.maxDelta = max;
  };

  View.prototype.build = function () {
    const d = this.data, root = this.root;
    root.textContent = '';
    root.appendChild(el('h1', 'title', d.title || 'Flame graph'));
    if (d.subtitle) root.appendChild(el('p', 'sub', d.subtitle));
    const c = el('div', 'controls');
    const reset = el('button', 'reset', 'Reset zoom');
    reset.type = 'button';
    reset.addEventListener('click', () => this.zoom(0));
    const search = el('input', 'search');
    search.type = 'text';
    search.placeholder = 'Search (regular expression), Enter';
    search.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.search(search.value);
    });
    const clear = el('button', 'clear', 'Clear');
    clear.type = 'button';
    clear.addEventListener('click', () => {
      search.value = '';
      this.search('');
    });
    const lab = el('label', 'icicle-label');
    const ic = el('input', 'icicle');
    ic.type = 'checkbox';
    ic.checked = this.icicle;
    ic.addEventListener('change', () => this.setIcicle(ic.checked));
    lab.appendChild(ic);
    lab.appendChild(document.createTextNode(' icicle (root on top)'));
    this.matchedEl = el('span', 'matched');
    [reset, search, clear, lab, this.matchedEl].forEach((x) => c.appendChild(x));
    root.appendChild(c);
    root.appendChild(el('p', 'note',
      'Total: ' + fmt(this.total) + ' ' + this.unit +
      '. Hover a frame for details, click to zoom into it, Reset zoom to go back.'));
    const m = d.merged || {};
    if (m.frames) {
      root.appendChild(el('p', 'note merged-note',
        fmt(m.frames) + ' frames thinner than ' + (100 * (m.minShare || 0)).toPrecision(2) +
        '% of the total were merged into ' + fmt(m.blocks) + ' [merged] blocks (' +
        pct(m.weight, this.total).toFixed(2) + '% of the weight).'));
    }
    if (this.diff) this.buildLegend();
    this.details = el('div', 'details', ' ');
    root.appendChild(this.details);
    this.canvas = el('canvas', 'flame');
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => { this.details.textContent = ' '; });
    this.canvas.addEventListener('click', (e) => {
      const f = this.at(e);
      if (f) this.zoom(f.i);
    });
    root.appendChild(this.canvas);
  };

  View.prototype.buildLegend = function () {
    const d = this.data, root = this.root;
    const lg = el('p', 'note legend');
    lg.appendChild(document.createTextNode('Differential: shares of each capture\'s total (base ' +
      fmt(d.baseTotal || 0) + ', now ' + fmt(this.total) + ' ' + this.unit + ').'));
    [['rgb(255,80,80)', 'grew'], ['rgb(80,80,255)', 'shrank'], ['rgb(255,255,255)', 'same']].forEach((p) => {
      const sw = el('span', 'sw');
      sw.style.background = p[0];
      lg.appendChild(sw);
      lg.appendChild(document.createTextNode(p[1]));
    });
    root.appendChild(lg);
    const gone = d.gone || [];
    if (gone.length) {
      root.appendChild(el('p', 'note gone-note', fmt(d.goneCount) +
        ' frames only the base had (not drawn), largest' + (d.goneCount > gone.length ? ' ' + gone.length : '') + ':'));
      const ul = el('ul', 'gone');
      for (const g of gone)
        ul.appendChild(el('li', null, g[0] + ' (' + pct(g[1], d.baseTotal).toFixed(2) + '% of base)'));
      root.appendChild(ul);
    }
  };

  View.prototype.fill = function (f) {
    if (f.highlight) return HIGHLIGHT;
    if (f.merged) return MERGED;
    if (!this.diff) return warm(f.name);
    if (!this.maxDelta || f.delta === 0) return 'rgb(255,255,255)';
    const t = Math.round(255 * (1 - Math.abs(f.delta) / this.maxDelta));
    return f.delta > 0 ? 'rgb(255,' + t + ',' + t + ')' : 'rgb(' + t + ',' + t + ',255)';
  };

  View.prototype.isAncestor = function (a, f) {
    for (let p = f; p >= 0; p = this.frames[p].parent) if (p === a) return true;
    return false;
  };

  View.prototype.draw = function () {
    const cv = this.canvas, dpr = window.devicePixelRatio || 1;
    const W = this.root.clientWidth || 1000;
    const H = (this.maxDepth + 1) * ROW;
    cv.style.height = H + 'px';
    cv.width = Math.round(W * dpr);
    cv.height = Math.round(H * dpr);
    this.width = W;
    const g = cv.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = this.diff ? '#e8e8e8' : '#fff';
    g.fillRect(0, 0, W, H);
    g.font = '11px ui-monospace, monospace';
    g.textBaseline = 'middle';
    const z = this.frames[this.zoomed];
    if (!z) return;
    const scale = W / (z.w || 1);
    this.drawn = [];
    for (const f of this.frames) {
      let x, w;
      if (f.depth <= z.depth) {
        if (!this.isAncestor(f.i, z.i)) continue;
        x = 0;
        w = W;
      } else {
        if (f.x < z.x || f.x + f.w > z.x + z.w) continue;
        x = (f.x - z.x) * scale;
        w = f.w * scale;
        if (w < 0.5) continue;
      }
      const y = this.icicle ? f.depth * ROW : (this.maxDepth - f.depth) * ROW;
      const fill = this.fill(f);
      g.fillStyle = fill;
      g.fillRect(x, y, Math.max(w - 1, 0.5), ROW - 1);
      if (w > 28) {
        g.fillStyle = '#000';
        const room = Math.floor((w - 6) / 6.7);
        const t = f.name.length > room ? f.name.slice(0, Math.max(room - 2, 0)) + '..' : f.name;
        g.fillText(t, x + 3, y + ROW / 2);
      }
      this.drawn.push({ i: f.i, name: f.name, depth: f.depth, x: x, y: y, w: w, h: ROW - 1, fill: fill, weight: f.w });
    }
  };

  View.prototype.at = function (e) {
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left, y = e.clientY - r.top;
    for (const d of this.drawn) if (x >= d.x && x < d.x + d.w && y >= d.y && y < d.y + ROW) return this.frames[d.i];
    return null;
  };

  View.prototype.describe = function (f) {
    let s = f.name + '\n' + fmt(f.w) + ' ' + this.unit + ' (' + pct(f.w, this.total).toFixed(2) + '% of the total)';
    if (f.merged) s += '\nframes thinner than ' + (100 * ((this.data.merged || {}).minShare || 0)).toPrecision(2) + '% merged';
    if (this.diff) {
      const sign = f.delta >= 0 ? '+' : '';
      s += '\nbase ' + f.baseShare.toFixed(2) + '% -> now ' + f.curShare.toFixed(2) + '% (' + sign + f.delta.toFixed(2) + ' points)';
      if (f.gone) s += '\ngone below this frame since the base: ' + pct(f.gone, this.data.baseTotal).toFixed(2) + '% of the base';
    }
    return s;
  };

  View.prototype.hover = function (e) {
    const f = this.at(e);
    this.details.textContent = f ? this.describe(f) : ' ';
    this.hovered = f ? f.i : -1;
  };

  View.prototype.zoom = function (i) {
    this.zoomed = i;
    this.draw();
  };

  View.prototype.setIcicle = function (on) {
    this.icicle = on;
    this.draw();
  };

  /* The matched weight counts a frame once even where it recurses: only
   * matches without a matching ancestor add (flamegraph.pl does the same). */
  View.prototype.search = function (text) {
    let re = null;
    this.matchedEl.classList.remove('bad');
    if (text) {
      try {
        re = new RegExp(text);
      } catch (err) {
        this.matchedEl.textContent = 'invalid regular expression';
        this.matchedEl.classList.add('bad');
        return;
      }
    }
    const under = [];
    let sum = 0;
    for (const f of this.frames) {
      const above = f.depth > 0 && under[f.depth - 1];
      f.highlight = !!re && !f.merged && re.test(f.name);
      if (f.highlight && !above) sum += f.w;
      under[f.depth] = above || f.highlight;
    }
    this.matchRe = re;
    this.matchedWeight = sum;
    this.matchedPct = pct(sum, this.total);
    this.matchedEl.textContent = re ? 'Matched: ' + this.matchedPct.toFixed(2) + '% (' + fmt(sum) + ' ' + this.unit + ')' : '';
    this.draw();
  };

  function readData() {
    return JSON.parse(document.getElementById('flame-data').textContent);
  }

  /* A view of data in root; window.__flame points at it. */
  function render(root, data) {
    const v = new View(root, data);
    window.__flame = v;
    return v;
  }

  function boot() {
    const root = el('div', 'flamegraph');
    document.body.appendChild(root);
    const v = render(root, readData());
    window.addEventListener('resize', () => v.draw());
    document.body.dataset.ready = '1';
  }

  window.FlameGraph = { boot: boot, render: render, readData: readData, el: el, fmt: fmt, pct: pct };
})();
