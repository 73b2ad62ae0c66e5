// studio.test.mjs: the web studio tested end to end in Debian's Chromium (headless, driven by playwright-core):
// the real xlstm-music binary serves a tiny model trained here; the page uploads a seed, generates, shows piano
// roll and notation, plays, downloads (checked by the project's own MIDI reader), rates, cancels, and after a
// server restart finds the piece in its library. Every request must stay on 127.0.0.1. Not a unit test of app.js.
//
// Run: node tests/browser/studio.test.mjs   (env: XM_BINARY, XM_CHROMIUM, XM_ARTIFACTS, XM_STUDIO_MODEL)
// Prints "ok - ..." / "FAIL - ..." per check and a final "N passed, N failed"; exits 1 on any failure, 77 when
// Chromium is absent (scripts/test.sh reports that as a skip).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const binary = path.resolve(process.env.XM_BINARY || path.join(root, 'build/xlstm-music'));
const artifacts = path.resolve(process.env.XM_ARTIFACTS || path.join(path.dirname(binary), 'test-artifacts'));
const chromiumPath = process.env.XM_CHROMIUM || '/usr/bin/chromium';
const samplePath = path.join(root, 'samples/sample.mid');
const SAMPLE_NOTES = 138;  // samples/README.md

if (!fs.existsSync(chromiumPath)) {
  console.log(`skipped: no Chromium at ${chromiumPath} (install it with scripts/setup.sh, or set XM_CHROMIUM)`);
  process.exit(77);
}
if (!fs.existsSync(binary)) {
  console.log(`FAIL - setup: no xlstm-music binary at ${binary} (build it, or set XM_BINARY)`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
let chromium;
try {
  ({ chromium } = createRequire(path.join(root, 'web/package.json'))('playwright-core'));
} catch (e) {
  console.log(`FAIL - setup: playwright-core is not installed in web/node_modules (run scripts/setup.sh): ${e.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

fs.mkdirSync(artifacts, { recursive: true });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'xm-studio-test-'));
const results = { passed: 0, failed: 0 };
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

async function check(name, fn) {
  try {
    await fn();
    results.passed++;
    console.log(`ok - ${name} (${elapsed()})`);
    return true;
  } catch (e) {
    results.failed++;
    console.log(`FAIL - ${name}: ${(e && e.message) || e}`);
    return false;
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

function run(args, what) {
  const r = spawnSync(binary, args, { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`${what}: xlstm-music ${args.join(' ')} exited ${r.status}: ${(r.stderr || '').trim().slice(-400)}`);
  return r;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---------- the server ----------

let server = null;

async function startServer(port, model, db, tag, extra = []) {
  const log = fs.openSync(path.join(artifacts, `studio-server-${tag}.log`), 'w');
  const child = spawn(binary, ['serve', '--port', String(port), '--model', model, '--db', db, ...extra],
    { stdio: ['ignore', log, log], env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  let exited = null;
  child.on('exit', (code, sig) => (exited = `exited with ${code ?? sig}`));
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`server ${exited}; see ${path.join(artifacts, `studio-server-${tag}.log`)}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/health`);
      if (r.ok) {
        server = child;
        return await r.json();
      }
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  child.kill('SIGKILL');
  throw new Error(`server did not answer /api/health within 30 s (log: studio-server-${tag}.log)`);
}

async function stopServer() {
  if (!server) return;
  const child = server;
  server = null;
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
  await done;
  clearTimeout(timer);
}

// ---------- page helpers ----------

// Counts a canvas's seed-coloured (blue) and continuation-coloured (orange) pixels; the background, grid and
// labels are grey, the playhead red. Classified by hue, so notes drawn with alpha by velocity count too.
async function rollColours(page, selector) {
  return page.evaluate((sel) => {
    const c = document.querySelector(sel);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let seed = 0;
    let continuation = 0;
    for (let i = 0; i < d.length; i += 4) {
      const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
      if (b - r > 60 && b - g > 20) seed++;
      else if (r - b > 80 && g > 90 && r > 150) continuation++;
    }
    return { seed, continuation, pixels: d.length / 4 };
  }, selector);
}

// The scale names of src/music/scales.cpp, in table order.
function scalesFromSource() {
  const src = fs.readFileSync(path.join(root, 'src/music/scales.cpp'), 'utf8');
  return [...src.matchAll(/t\.push_back\((western|raga|makam)\("([a-z_]+)"/g)].map((m) => (m[1] === 'makam' ? `makam_${m[2]}` : m[2]));
}

// ---------- the test ----------

async function main() {
  let model = process.env.XM_STUDIO_MODEL;
  await check('a tiny model trains from samples/', async () => {
    if (model) {
      assert(fs.existsSync(model), `XM_STUDIO_MODEL=${model} does not exist`);
      return;
    }
    run(['data', 'prepare', '--input', path.join(root, 'samples'), '--transpose', '-5..6', '--out', path.join(work, 'data')], 'data prepare');
    model = path.join(work, 'tiny.safetensors');
    run(['train', '--data', path.join(work, 'data'), '--preset', 'tiny', '--steps', '30', '--out', model, '--quiet'], 'train');
  });
  if (!model || !fs.existsSync(model)) return;
  const modelName = path.basename(model).replace(/\.safetensors$/, '');

  const port = await freePort();
  const db = path.join(work, 'studio', 'studio.db');
  const base = `http://127.0.0.1:${port}`;
  let health = null;
  if (!(await check('the server starts', async () => (health = await startServer(port, model, db, 'first'))))) return;

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
  });
  const context = await browser.newContext({ viewport: { width: 1360, height: 1000 }, acceptDownloads: true });
  const requests = [];
  const foreign = [];
  // Offline: anything not for the server on 127.0.0.1 is recorded and refused.
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || u.protocol === 'blob:' || u.hostname === '127.0.0.1') return route.continue();
    foreign.push(u.href);
    return route.abort();
  });
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  page.setDefaultTimeout(20000);

  try {
    await check('the page loads with the model in its menu', async () => {
      await page.goto(`${base}/`);
      await page.waitForSelector('body[data-ready="1"]');
      const options = await page.$$eval('#model option', (os) => os.map((o) => o.value));
      assert(options.includes(modelName), `model menu ${JSON.stringify(options)} lacks "${modelName}"`);
      const title = await page.title();
      assert(/xlstm-music/.test(title), `title "${title}"`);
    });

    await check('the scale menu lists every scale, raga and makam of src/music/scales.cpp', async () => {
      const want = scalesFromSource();
      assert(want.length > 50, `read only ${want.length} scales from scales.cpp`);
      const got = await page.$$eval('#scale option', (os) => os.map((o) => o.value).filter(Boolean));
      assert(JSON.stringify(got) === JSON.stringify(want),
        `menu differs: missing ${want.filter((x) => !got.includes(x)).join(',') || '-'}, extra ${got.filter((x) => !want.includes(x)).join(',') || '-'}`);
    });

    await check('a seed chosen with the file picker shows as a piano roll', async () => {
      await page.setInputFiles('#seed-file', samplePath);
      await page.waitForSelector(`#seed-roll[data-notes="${SAMPLE_NOTES}"]`);
      const info = await page.textContent('#seed-info');
      assert(info.includes(`${SAMPLE_NOTES} notes`), `seed info "${info}"`);
      const px = await rollColours(page, '#seed-roll');
      assert(px.seed > px.pixels / 100 && px.continuation === 0,
        `seed roll: ${px.seed} seed-coloured and ${px.continuation} continuation-coloured pixels of ${px.pixels}`);
    });

    await check('the page\'s MIDI reader (smf.js) finds the notes the project\'s reader finds', async () => {
      const want = JSON.parse(run(['inspect', samplePath, '--json'], 'inspect').stdout).notes;
      const b64 = fs.readFileSync(samplePath).toString('base64');
      const got = await page.evaluate(async (data) => {
        const { parseSmf } = await import('/smf.js');
        return parseSmf(Uint8Array.from(atob(data), (c) => c.charCodeAt(0))).notes;
      }, b64);
      assert(got.length === want.length, `smf.js reads ${got.length} notes, xlstm-music inspect ${want.length}`);
      const order = (x, y) => x.start - y.start || x.pitch - y.pitch;
      const a = want.map((n) => ({ pitch: n.pitch, start: n.start, end: n.end, velocity: n.velocity })).sort(order);
      const b = got.map((n) => ({ pitch: n.pitch, start: n.start_s, end: n.end_s, velocity: n.velocity })).sort(order);
      const bad = a.findIndex((x, i) => x.pitch !== b[i].pitch || x.velocity !== b[i].velocity ||
        Math.abs(x.start - b[i].start) > 1e-3 || Math.abs(x.end - b[i].end) > 1e-3);
      assert(bad < 0, `note ${bad}: inspect ${JSON.stringify(a[bad])}, smf.js ${JSON.stringify(b[bad])}`);
    });

    await check('a seed dropped on the page shows as a piano roll', async () => {
      await page.click('#seed-clear');
      await page.waitForSelector('#seed-roll[data-notes="0"]');
      const b64 = fs.readFileSync(samplePath).toString('base64');
      await page.evaluate((data) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'dropped.mid', { type: 'audio/midi' }));
        const target = document.querySelector('#seed-drop');
        for (const type of ['dragenter', 'dragover', 'drop']) {
          target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
        }
      }, b64);
      await page.waitForSelector(`#seed-roll[data-notes="${SAMPLE_NOTES}"]`);
      const info = await page.textContent('#seed-info');
      assert(info.startsWith('dropped.mid'), `seed info "${info}"`);
    });

    await check('a value the server refuses is shown at its field', async () => {
      await page.fill('#num', '50');
      await page.click('#generate');
      await page.waitForSelector('#form-error:not([hidden])');
      const msg = await page.textContent('#form-error');
      assert(/num/.test(msg), `error message "${msg}" does not name the field`);
      assert(await page.$('#num.invalid'), '#num is not marked invalid');
      await page.fill('#num', '1');
    });

    let pieceId = null;
    let rollNotes = 0;
    await check('generate: a job with progress over Server-Sent Events ends with a piece', async () => {
      await page.fill('#length', '2');
      await page.fill('#random-seed', '7');
      await page.click('#generate');
      await page.waitForSelector('#job-status[data-state="done"], #job-status[data-state="failed"]', { timeout: 90000 });
      const st = await page.getAttribute('#job-status', 'data-state');
      const err = await page.$eval('#form-error', (e) => (e.hidden ? '' : e.textContent));
      assert(st === 'done', `job ended ${st}: ${err}`);
      assert(requests.some((u) => /\/api\/jobs\/[^/]+\/events$/.test(u)), 'no request for /api/jobs/ID/events');
      const value = await page.$eval('#progress', (p) => p.value);
      assert(value === 1, `progress bar at ${value} after the job`);
      await page.waitForSelector('#result[data-piece]');
      pieceId = await page.getAttribute('#result', 'data-piece');
    });

    await check('the result piano roll shows the seed and the continuation in their colours', async () => {
      assert(pieceId, 'no piece');
      await page.waitForFunction(() => Number(document.querySelector('#roll').dataset.notes) > 0);
      const d = await page.$eval('#roll', (c) => ({ ...c.dataset }));
      rollNotes = Number(d.notes);
      assert(Number(d.seedNotes) === SAMPLE_NOTES, `${d.seedNotes} seed notes, want ${SAMPLE_NOTES}`);
      assert(Number(d.newNotes) > 0, 'no generated notes');
      const px = await rollColours(page, '#roll');
      assert(px.seed > px.pixels / 200 && px.continuation > 20,
        `result roll: ${px.seed} seed-coloured and ${px.continuation} continuation-coloured pixels of ${px.pixels}`);
    });

    await check('the notation renders as SVG with notes', async () => {
      assert(pieceId, 'no piece');
      assert(health.notation, 'the server says notation is off (web/vendor.txt files not embedded)');
      await page.waitForSelector(`#notation[data-piece="${pieceId}"] svg`, { timeout: 45000 });
      const notes = await page.$$eval('#notation svg .vf-stavenote', (e) => e.length);
      assert(notes > 10, `${notes} notes in the SVG`);
      const status = await page.textContent('#notation-status');
      assert(status.trim() === '', `notation status "${status}"`);
    });

    await check(health.audio ? 'play: the audio plays and the playhead moves' : 'play: "audio off" is shown', async () => {
      assert(pieceId, 'no piece');
      if (!health.audio) {
        assert(await page.isVisible('#audio-off'), '"audio off" is not shown');
        assert(!(await page.isVisible('#play')), 'a play button is shown without audio');
        return;
      }
      await page.click('#play');
      await page.waitForFunction(() => {
        const a = document.querySelector('#audio');
        return !a.paused && a.currentTime > 0.3;
      }, null, { timeout: 20000 });
      const head = await page.$eval('#roll', (c) => Number(c.dataset.playhead));
      assert(head > 0, `playhead at ${head}`);
      await page.click('#play');
      assert(await page.$eval('#audio', (a) => a.paused), 'pause did not pause');
    });

    await page.screenshot({ path: path.join(artifacts, 'studio-result.png'), fullPage: true });

    await check('download MIDI: the project\'s reader accepts it', async () => {
      assert(pieceId, 'no piece');
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#dl-mid')]);
      const file = path.join(artifacts, 'studio-download.mid');
      await dl.saveAs(file);
      const r = run(['inspect', file, '--json'], 'inspect');
      const read = JSON.parse(r.stdout).notes;
      assert(Array.isArray(read), 'inspect --json has no notes array');
      assert(read.length === rollNotes, `the reader finds ${read.length} notes, the piano roll showed ${rollNotes}`);
      // The same notes as the piece's .json (pitch and onset to the millisecond).
      const shown = (await (await fetch(`${base}/api/pieces/${pieceId}.json`)).json()).notes;
      const order = (x, y) => x[0] - y[0] || x[1] - y[1];
      const a = read.map((n) => [n.pitch, n.start]).sort(order);
      const b = shown.map((n) => [n.pitch, n.start_s]).sort(order);
      const diff = a.filter((x, i) => !b[i] || x[0] !== b[i][0] || Math.abs(x[1] - b[i][1]) > 0.002);
      assert(b.length === a.length && diff.length === 0,
        `${diff.length} notes differ between the MIDI file and the piece's .json, e.g. ${JSON.stringify(diff[0])}`);
    });

    await check('download MusicXML and WAV', async () => {
      assert(pieceId, 'no piece');
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#dl-musicxml')]);
      const xml = fs.readFileSync(await dl.path(), 'utf8');
      assert(xml.includes('<score-partwise'), 'the MusicXML download has no <score-partwise>');
      if (!health.audio) {
        assert(await page.$('#dl-wav.disabled'), 'the WAV link is enabled without audio');
        return;
      }
      const [w] = await Promise.all([page.waitForEvent('download'), page.click('#dl-wav')]);
      const head = fs.readFileSync(await w.path()).subarray(0, 12).toString('latin1');
      assert(head.startsWith('RIFF') && head.endsWith('WAVE'), `WAV download starts "${head}"`);
    });

    await check('rating the piece is stored', async () => {
      assert(pieceId, 'no piece');
      const [resp] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith(`/api/pieces/${pieceId}/rating`)),
        page.click('#rating .star[data-value="4"]'),
      ]);
      assert(resp.ok(), `rating answered ${resp.status()}`);
      await page.waitForSelector('#rating[data-rating="4"]');
      const meta = await (await fetch(`${base}/api/pieces/${pieceId}`)).json();
      assert(meta.rating === 4, `the server has rating ${meta.rating}`);
    });

    await check('variations: one job makes two pieces, each with its tab', async () => {
      await page.fill('#length', '1');
      await page.fill('#num', '2');
      await page.click('#generate');
      await page.waitForSelector('#job-status[data-state="done"], #job-status[data-state="failed"]', { timeout: 90000 });
      const st = await page.getAttribute('#job-status', 'data-state');
      const err = await page.$eval('#form-error', (e) => (e.hidden ? '' : e.textContent));
      assert(st === 'done', `job ended ${st}: ${err}`);
      const tabs = await page.$$eval('#variations button', (bs) => bs.map((b) => b.dataset.piece));
      assert(tabs.length === 2 && tabs[0] !== tabs[1], `variation tabs ${JSON.stringify(tabs)}, want two pieces`);
      await page.waitForSelector(`#result[data-piece="${tabs[0]}"]`);
      await page.click(`#variations button[data-piece="${tabs[1]}"]`);
      await page.waitForSelector(`#result[data-piece="${tabs[1]}"]`);
      await page.waitForSelector(`#variations button.active[data-piece="${tabs[1]}"]`);
      if (health.notation) await page.waitForSelector(`#notation[data-piece="${tabs[1]}"] svg .vf-stavenote`, { timeout: 45000 });
      for (const id of tabs) {
        const meta = await (await fetch(`${base}/api/pieces/${id}`)).json();
        assert(meta.job && meta.variation >= 1, `piece ${id}: job ${meta.job}, variation ${meta.variation}`);
      }
    });

    await check('cancel stops a running job and stores nothing', async () => {
      const total = async () => (await (await fetch(`${base}/api/pieces`)).json()).total;
      const before = await total();
      await page.selectOption('#length-unit', 'seconds');
      await page.fill('#length', '600');
      await page.fill('#num', '8');
      await page.click('#generate');
      await page.waitForSelector('#cancel:not([hidden])');
      await page.waitForSelector('#job-status[data-state="running"], #job-status[data-state="queued"]');
      await page.click('#cancel');
      await page.waitForSelector('#job-status[data-state="cancelled"], #job-status[data-state="done"], #job-status[data-state="failed"]', { timeout: 30000 });
      const st = await page.getAttribute('#job-status', 'data-state');
      assert(st === 'cancelled', `job ended "${st}" after cancel`);
      assert(await page.isEnabled('#generate'), 'Generate stays disabled after cancel');
      const after = await total();
      assert(after === before, `${after - before} pieces stored by the cancelled job`);
    });

    await check('after a server restart the library lists the piece with its rating', async () => {
      assert(pieceId, 'no piece');
      const stored = (await (await fetch(`${base}/api/pieces`)).json()).pieces.map((p) => p.id);
      await stopServer();
      await startServer(port, model, db, 'second');
      await page.reload();
      await page.waitForSelector('body[data-ready="1"]');
      const row = `#library tr[data-piece="${pieceId}"]`;
      await page.waitForSelector(`${row} .stars[data-rating="4"]`);
      const rows = await page.$$eval('#library tbody tr', (trs) => trs.map((tr) => tr.dataset.piece));
      assert(JSON.stringify(rows) === JSON.stringify(stored),
        `library after the restart ${JSON.stringify(rows)}, before ${JSON.stringify(stored)}`);
      await page.click(`${row} button.open`);
      await page.waitForSelector(`#result[data-piece="${pieceId}"]`);
      await page.waitForFunction((n) => Number(document.querySelector('#roll').dataset.notes) === n, rollNotes);
      await page.waitForSelector(`#notation[data-piece="${pieceId}"] svg`, { timeout: 45000 });
      await page.screenshot({ path: path.join(artifacts, 'studio-library.png'), fullPage: true });
    });

    await check('a server without audio: the page says "audio off" and offers no player or WAV', async () => {
      assert(pieceId, 'no piece');
      await stopServer();
      const h = await startServer(port, model, db, 'no-audio', ['--no-audio']);
      assert(h.audio === false, `health says audio ${h.audio} with --no-audio`);
      await page.reload();
      await page.waitForSelector('body[data-ready="1"]');
      assert((await page.textContent('#badge-audio')).trim() === 'audio off', 'the audio badge does not say "audio off"');
      await page.click(`#library tr[data-piece="${pieceId}"] button.open`);
      await page.waitForSelector(`#result[data-piece="${pieceId}"]`);
      assert(await page.isVisible('#audio-off'), '"audio off" is not shown');
      assert(!(await page.isVisible('#play')), 'a play button is shown without audio');
      assert(await page.$('#dl-wav.disabled'), 'the WAV link is enabled without audio');
      assert(!(await page.$(`#library tr[data-piece="${pieceId}"] button.replay:not([hidden])`)), 'the library offers play without audio');
    });

    await check('every request went to 127.0.0.1 (the studio works offline)', async () => {
      assert(requests.length > 10, `only ${requests.length} requests seen`);
      assert(foreign.length === 0, `requests left the server: ${foreign.slice(0, 5).join(', ')}`);
      const bad = requests.filter((u) => !/^(data:|blob:|http:\/\/127\.0\.0\.1:)/.test(u));
      assert(bad.length === 0, `requests to other hosts: ${bad.slice(0, 5).join(', ')}`);
    });

    await check('no script errors in the page', async () => {
      // A 4xx the test provoked on purpose shows as a console "Failed to load resource" line; those are fine.
      const real = pageErrors.filter((e) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(e));
      assert(real.length === 0, real.slice(0, 3).join(' | '));
    });
  } finally {
    await page.screenshot({ path: path.join(artifacts, 'studio-final.png'), fullPage: true }).catch(() => {});
    await browser.close();
    await stopServer();
  }
}

try {
  await main();
} catch (e) {
  results.failed++;
  console.log(`FAIL - unexpected: ${e.stack || e}`);
  await stopServer();
}
fs.rmSync(work, { recursive: true, force: true });
console.log(`screenshots and logs: ${artifacts}`);
console.log(`${results.passed} passed, ${results.failed} failed`);
process.exit(results.failed ? 1 : 0);
