// Drives Debian's headless chromium (through playwright-core, fetched by
// tools/browser/fetch.sh) over a page written by tests/helpers/flame_render
// and checks what tests/integration/91_flame_browser.sh expects of it.
//
//   node tests/browser/flame.mjs CHECK PAGE.html ARTEFACT_DIR 'EXPECT_JSON'
//
// CHECK: flame | diff | heatmap | inject | big. EXPECT_JSON holds the values the
// shell computed from the input on its own (percentages, sums). Prints
// "# ..." progress lines; exits 0 when every check held, 1 with the first
// failure on stderr. Waits on the page's ready flag and on conditions,
// never on sleeps.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const { chromium } = require('playwright-core');

const [check, page_path, outdir, expectJson] = process.argv.slice(2);
const expect = JSON.parse(expectJson || '{}');

function fail(msg) {
  throw new Error(msg);
}
function eq(what, got, want) {
  if (got !== want) fail(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  console.log(`# ${what}: ${JSON.stringify(got)}`);
}
function ok(what, cond, detail) {
  if (!cond) fail(`${what}${detail ? ': ' + detail : ''}`);
  console.log(`# ${what}`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(outdir, `${check}-${name}.png`), fullPage: true });
}

// The drawn frames of the page's current flame view.
const frames = (page) => page.evaluate(() => window.__flame.drawn.map((d) => ({ ...d })));
const width = (page) => page.evaluate(() => window.__flame.width);

// The colour the canvas really has inside a drawn frame (its top-left
// corner: the label starts further right).
async function pixel(page, d) {
  return page.evaluate((d) => {
    const cv = window.__flame.canvas, dpr = window.devicePixelRatio || 1;
    const p = cv.getContext('2d').getImageData(Math.floor((d.x + 1) * dpr), Math.floor((d.y + 1) * dpr), 1, 1).data;
    return `rgb(${p[0]},${p[1]},${p[2]})`;
  }, d);
}

async function clickFrame(page, d) {
  const box = await page.evaluate(() => {
    const r = window.__flame.canvas.getBoundingClientRect();
    return { x: r.left, y: r.top };
  });
  await page.mouse.click(box.x + d.x + Math.min(d.w / 2, 20), box.y + d.y + d.h / 2);
}

async function hoverFrame(page, d) {
  const box = await page.evaluate(() => {
    window.__flame.canvas.scrollIntoView();
    const r = window.__flame.canvas.getBoundingClientRect();
    return { x: r.left, y: r.top };
  });
  await page.mouse.move(box.x + d.x + Math.min(d.w / 2, 20), box.y + d.y + d.h / 2);
}

const byName = (fs, name) => fs.find((f) => f.name === name);

async function flame(page) {
  let fs = await frames(page);
  const W = await width(page);
  eq('frames drawn', fs.length, expect.frames);
  for (const n of expect.names) ok(`frame ${n} drawn`, byName(fs, n));
  const all = byName(fs, 'all');
  ok('root spans the width', all.x === 0 && all.w === W, JSON.stringify(all));
  for (const f of fs) eq(`canvas colour of ${f.name} at depth ${f.depth}`, await pixel(page, f), f.fill);
  await shot(page, '1-drawn');
  await hoverFrame(page, byName(fs, expect.hover.name));
  await page.waitForFunction(() => window.__flame.hovered >= 0);
  const det = await page.textContent('.details');
  ok(`hover on ${expect.hover.name} shows ${expect.hover.text}`, det.startsWith(expect.hover.name + '\n' + expect.hover.text), det);

  await page.fill('input.search', expect.search);
  await page.press('input.search', 'Enter');
  await page.waitForFunction(() => window.__flame.matchRe !== null);
  const pct = await page.evaluate(() => window.__flame.matchedPct.toFixed(2));
  eq('matched percentage', pct, expect.matchedPct);
  const text = await page.textContent('.matched');
  ok('the page shows the percentage', text.includes(`${expect.matchedPct}%`), text);
  const re = new RegExp(expect.search);
  fs = await frames(page);
  for (const f of fs)
    eq(`${f.name} highlighted`, f.fill === 'rgb(230,0,230)', re.test(f.name) && f.name !== '[merged]');
  await shot(page, '2-search');

  const target = fs.find((f) => f.name === expect.zoom && f.w < W);
  ok(`frame ${expect.zoom} narrower than the width before the click`, target);
  await clickFrame(page, target);
  await page.waitForFunction((i) => window.__flame.zoomed === i, target.i);
  fs = await frames(page);
  const z = fs.find((f) => f.i === target.i);
  ok('the clicked frame spans the full width', z.x === 0 && z.w === W, JSON.stringify(z));
  ok('frames outside it are gone', !fs.some((f) => f.depth === target.depth && f.i !== target.i));
  await shot(page, '3-zoom');
  await page.click('button.reset');
  await page.waitForFunction(() => window.__flame.zoomed === 0);
  eq('frames after reset', (await frames(page)).length, expect.frames);

  const rootY = (await frames(page)).find((f) => f.name === 'all').y;
  ok('flame: root at the bottom', rootY > 0);
  await page.check('input.icicle');
  await page.waitForFunction(() => window.__flame.icicle === true);
  const iy = (await frames(page)).find((f) => f.name === 'all').y;
  eq('icicle: root on top', iy, 0);
  await shot(page, '4-icicle');
}

async function diff(page) {
  const fs = await frames(page);
  const grew = byName(fs, expect.grew), shrank = byName(fs, expect.shrank);
  ok(`${expect.grew} drawn`, grew);
  ok(`${expect.shrank} drawn`, shrank);
  const [gr, gg, gb] = (await pixel(page, grew)).match(/\d+/g).map(Number);
  ok(`${expect.grew} (grew) is red`, gr === 255 && gg < 255 && gb < 255, `rgb(${gr},${gg},${gb})`);
  const [sr, sg, sb] = (await pixel(page, shrank)).match(/\d+/g).map(Number);
  ok(`${expect.shrank} (shrank) is blue`, sb === 255 && sr < 255 && sg < 255, `rgb(${sr},${sg},${sb})`);
  if (expect.same) {
    const same = byName(fs, expect.same);
    eq(`${expect.same} (the same share) is white`, await pixel(page, same), 'rgb(255,255,255)');
  }
  await hoverFrame(page, grew);
  await page.waitForFunction(() => window.__flame.hovered >= 0);
  const det = await page.textContent('.details');
  ok('hover shows both shares and the delta', det.includes(expect.grewHover), det);
  const gone = await page.textContent('ul.gone');
  ok('the frame only the base had is listed', gone.includes(expect.gone), gone);
  await shot(page, 'colours');
}

async function selectCells(page, a, b, how) {
  const p = await page.evaluate(([c, r]) => window.__heat.cellCenter(c, r), a);
  const q = await page.evaluate(([c, r]) => window.__heat.cellCenter(c, r), b);
  if (how === 'drag') {
    await page.mouse.move(p.x, p.y);
    await page.mouse.down();
    await page.mouse.move(q.x, q.y, { steps: 4 });
    await page.mouse.up();
  } else {
    await page.mouse.click(p.x, p.y);
    await page.keyboard.down('Shift');
    await page.mouse.click(q.x, q.y);
    await page.keyboard.up('Shift');
  }
}

async function heatmap(page) {
  eq('rows', await page.evaluate(() => window.__heat.rows), expect.rows);
  eq('columns', await page.evaluate(() => window.__heat.cols), expect.cols);
  let n = 0;
  for (const s of expect.selections) {
    await page.evaluate(() => { window.__flameBefore = window.__flame; });
    await selectCells(page, s.from, s.to, s.how);
    const rows = expect.rows, a = s.from[0] * rows + s.from[1], b = s.to[0] * rows + s.to[1];
    await page.waitForFunction(([f, t]) => window.__heat.sel.from === f && window.__heat.sel.to === t &&
      window.__flame !== window.__flameBefore && window.__flame.ready, [Math.min(a, b), Math.max(a, b)]);
    const sel = await page.evaluate(() => ({ ...window.__heat.sel, total: window.__flame.total }));
    const label = `${s.how} ${s.from} to ${s.to}`;
    eq(`${label}: samples`, sel.samples, s.samples);
    eq(`${label}: weight`, sel.weight, s.weight);
    eq(`${label}: the flame graph's total`, sel.total, s.weight);
    const range = await page.textContent('.range');
    ok(`${label}: the page shows the count`, range.includes(`: ${s.samples.toLocaleString('en-US')} samples`), range);
    if (s.leaves) {
      const fs = await frames(page);
      for (const [name, w] of Object.entries(s.leaves)) {
        const f = byName(fs, name);
        ok(`${label}: ${name} drawn with ${w}`, w === 0 ? !f : f && f.weight === w, JSON.stringify(f));
      }
    }
    await shot(page, `range-${++n}`);
  }
}

async function inject(page, dialogs) {
  const fs = await frames(page);
  const f = byName(fs, expect.name);
  ok('the hostile name is a frame, as text', f);
  await hoverFrame(page, f);
  await page.waitForFunction(() => window.__flame.hovered >= 0);
  const det = await page.textContent('.details');
  ok('hover shows it as text', det.includes(expect.name), det);
  await page.fill('input.search', 'script');
  await page.press('input.search', 'Enter');
  await page.waitForFunction(() => window.__flame.matchRe !== null);
  const els = await page.evaluate(() => ({
    img: document.querySelectorAll('img').length,
    onerror: document.querySelectorAll('[onerror]').length,
    scripts: document.querySelectorAll('script').length,
    title: document.title,
  }));
  eq('no img element created', els.img, 0);
  eq('no onerror attribute anywhere', els.onerror, 0);
  eq('only the page\'s own scripts', els.scripts, 3);
  ok('the title kept the name as text', els.title.includes(expect.title), els.title);
  eq('dialogs opened', dialogs.length, 0);
  await shot(page, 'inert');
}

// A large page: how long until it is drawn, how many frames it drew.
async function big(page) {
  const t = await page.evaluate(() => ({ ms: performance.now(), drawn: window.__flame.drawn.length }));
  console.log(`# big page ready after ${t.ms.toFixed(0)} ms (navigation start to drawn), ${t.drawn} frames drawn`);
  ok('frames drawn', t.drawn > 0);
  const note = await page.textContent('.merged-note');
  ok('the page says what was merged', /frames thinner than .* were merged into .* \[merged\] blocks/.test(note), note);
  console.log(`# ${note}`);
  await shot(page, 'drawn');
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let rc = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [], dialogs = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  await page.goto('file://' + path.resolve(page_path));
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 30000 });
  await { flame, diff, heatmap, inject, big }[check](page, dialogs);
  eq('script errors on the page', errors.join('; '), '');
} catch (e) {
  console.error(`not ok: ${e.message}`);
  rc = 1;
} finally {
  await browser.close();
}
process.exit(rc);
