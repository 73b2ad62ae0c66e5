// app.js: the studio page's behaviour: talks to the server's JSON API (/api/...), shows the seed and the result
// as piano rolls, renders notation from the MusicXML with OpenSheetMusicDisplay (served from /vendor/), plays
// the WAV, rates, downloads and lists the library. Not the server and not a MIDI writer; smf.js only reads.
import { parseSmf } from './smf.js';
import { PianoRoll } from './pianoroll.js';
import { SCALE_GROUPS, KEYS } from './scales.js';

const $ = (sel) => document.querySelector(sel);
const state = {
  health: null,
  models: [],
  seedFile: null,
  job: null,         // id of the running job
  events: null,      // EventSource of the running job
  pollTimer: 0,
  pieces: [],        // ids of the variations shown
  piece: null,       // id of the piece shown
  osmd: null,
};

// ---------- HTTP ----------

// Thrown for an API error: the server's {"error", "field"} plus the HTTP status.
class ApiError extends Error {
  constructor(status, body) {
    super(body?.error || `HTTP ${status}`);
    this.status = status;
    this.field = body?.field || null;
  }
}

async function api(path, { method = 'GET', json, body } = {}) {
  const init = { method, headers: {} };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { error: `the server does not answer (${e.message})` });
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text.slice(0, 200) };
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

const pieceUrl = (id, ext = '') => `/api/pieces/${encodeURIComponent(id)}${ext}`;

function fmtTime(s) {
  if (!isFinite(s) || s < 0) s = 0;
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

function setBadge(el, on, textOn, textOff) {
  el.textContent = on ? textOn : textOff;
  el.classList.toggle('on', !!on);
  el.classList.toggle('off', !on);
}

// ---------- start-up: health, models, option lists ----------

async function loadHealth() {
  try {
    state.health = await api('/api/health');
    setBadge($('#badge-server'), true, 'server ok', '');
  } catch (e) {
    state.health = { ok: false, audio: false, notation: false };
    setBadge($('#badge-server'), false, '', `server: ${e.message}`);
  }
  const h = state.health;
  setBadge($('#badge-audio'), h.audio, 'audio on', 'audio off');
  const notation = !!window.opensheetmusicdisplay && h.notation !== false;
  setBadge($('#badge-notation'), notation, 'notation on', 'notation off');
}

function fillSelect(sel, items, { keepFirst = true } = {}) {
  const first = keepFirst ? sel.querySelector('option') : null;
  sel.replaceChildren(...(first ? [first] : []));
  for (const it of items) {
    const o = document.createElement('option');
    o.value = typeof it === 'string' ? it : it.value;
    o.textContent = typeof it === 'string' ? it.replace(/_/g, ' ') : it.label;
    sel.append(o);
  }
}

async function loadModels() {
  let models = [];
  try {
    const data = await api('/api/models');
    models = Array.isArray(data) ? data : data?.models || [];
  } catch (e) {
    showFormError(`models: ${e.message}`);
  }
  state.models = models;
  fillSelect($('#model'), models.map((m) => ({
    value: m.name,
    label: `${m.name}${m.parameters ? ` (${fmtParams(m.parameters)})` : ''}`,
  })), { keepFirst: false });
  if (!models.length) {
    const o = document.createElement('option');
    o.value = '';
    o.textContent = 'no model loaded';
    $('#model').append(o);
  }
  onModelChange();
}

function fmtParams(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M params`;
  if (n >= 1e3) return `${Math.round(n / 1e3)}k params`;
  return `${n} params`;
}

function onModelChange() {
  const m = state.models.find((x) => x.name === $('#model').value);
  const genre = $('#genre').value;
  const mood = $('#mood').value;
  fillSelect($('#genre'), m?.genres || []);
  fillSelect($('#mood'), m?.moods || []);
  if ([...$('#genre').options].some((o) => o.value === genre)) $('#genre').value = genre;
  if ([...$('#mood').options].some((o) => o.value === mood)) $('#mood').value = mood;
}

function fillKeysAndScales() {
  fillSelect($('#key'), KEYS);
  const scaleSel = $('#scale');
  for (const [family, names] of SCALE_GROUPS) {
    const g = document.createElement('optgroup');
    g.label = family;
    for (const n of names) {
      const o = document.createElement('option');
      o.value = n;
      o.textContent = n.replace(/^(raga|makam)_/, '').replace(/_/g, ' ');
      g.append(o);
    }
    scaleSel.append(g);
  }
}

// ---------- the seed ----------

let seedRoll;
let roll;

async function setSeed(file) {
  const info = $('#seed-info');
  clearFormError();
  if (!file) {
    state.seedFile = null;
    info.textContent = 'No seed: the model starts from nothing.';
    info.classList.remove('error');
    seedRoll.setNotes([]);
    $('#seed-clear').hidden = true;
    $('#seed-file').value = '';
    return;
  }
  try {
    const smf = parseSmf(await file.arrayBuffer());
    state.seedFile = file;
    const notes = smf.notes.map((n) => ({ ...n, seed: true }));
    seedRoll.setNotes(notes, { duration: smf.duration });
    const tempo = smf.tempos.length ? `, ${Math.round(smf.tempos[0].bpm)} BPM` : '';
    const meter = smf.timeSignatures.length ? `, ${smf.timeSignatures[0].numerator}/${smf.timeSignatures[0].denominator}` : '';
    info.textContent = `${file.name}: ${notes.length} notes, ${smf.duration.toFixed(1)} s, ` +
      `${smf.tracks.length} track${smf.tracks.length === 1 ? '' : 's'}${tempo}${meter}`;
    info.classList.remove('error');
    $('#seed-clear').hidden = false;
  } catch (e) {
    state.seedFile = null;
    seedRoll.setNotes([]);
    info.textContent = `${file.name} is not a MIDI file this page can read: ${e.message}`;
    info.classList.add('error');
    $('#seed-clear').hidden = false;
  }
}

function wireSeed() {
  $('#seed-file').addEventListener('change', (e) => setSeed(e.target.files[0] || null));
  $('#seed-clear').addEventListener('click', () => setSeed(null));
  const drop = $('#seed-drop');
  const panel = $('#seed-panel');
  for (const ev of ['dragenter', 'dragover']) {
    panel.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
  }
  panel.addEventListener('dragleave', (e) => {
    if (!panel.contains(e.relatedTarget)) drop.classList.remove('over');
  });
  panel.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files?.[0];
    if (f) setSeed(f);
  });
  // A file dropped anywhere else must not make the browser navigate away from the studio.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
}

// ---------- the controls ----------

function collectParams() {
  const p = {};
  const str = (id, key) => {
    const v = $(id).value.trim();
    if (v !== '') p[key] = v;
  };
  const num = (id, key, int) => {
    const v = $(id).value.trim();
    if (v === '') return;
    p[key] = int ? parseInt(v, 10) : parseFloat(v);
  };
  str('#model', 'model');
  str('#genre', 'genre');
  str('#mood', 'mood');
  str('#key', 'key');
  str('#scale', 'scale');
  num('#tempo', 'tempo', false);
  if (p.tempo === 0) delete p.tempo;
  num('#length', $('#length-unit').value === 'bars' ? 'bars' : 'seconds', $('#length-unit').value === 'bars');
  num('#stop-prob', 'stop_prob', false);
  num('#temperature', 'temperature', false);
  num('#top-p', 'top_p', false);
  num('#num', 'num', true);
  num('#random-seed', 'random_seed', true);
  return p;
}

function clearFormError() {
  $('#form-error').hidden = true;
  for (const el of document.querySelectorAll('.invalid')) el.classList.remove('invalid');
}

function showFormError(message, field) {
  const box = $('#form-error');
  box.textContent = message;
  box.hidden = false;
  if (!field) return;
  // The server names a field by its API name ("top_p") or its CLI flag ("--top-p").
  const name = String(field).replace(/^--/, '').replace(/-/g, '_');
  for (const el of document.querySelectorAll('[data-field]')) {
    if (el.dataset.field.split(' ').includes(name)) el.classList.add('invalid');
  }
  if (name === 'seed') $('#seed-drop').classList.add('invalid');
}

function wireControls() {
  $('#model').addEventListener('change', onModelChange);
  for (const id of ['temperature', 'top-p']) {
    const input = $(`#${id}`);
    const out = $(`#${id}-out`);
    const show = () => (out.textContent = parseFloat(input.value).toFixed(2));
    input.addEventListener('input', show);
    show();
  }
  $('#length-unit').addEventListener('change', () => {
    const bars = $('#length-unit').value === 'bars';
    $('#length').value = bars ? 8 : 20;
    $('#length').step = bars ? 1 : 0.5;
  });
  $('#reseed').addEventListener('click', () => {
    $('#random-seed').value = Math.floor(Math.random() * 1e9);
  });
  $('#controls').addEventListener('submit', (e) => {
    e.preventDefault();
    generate();
  });
  $('#cancel').addEventListener('click', cancelJob);
}

// ---------- jobs ----------

function setBusy(busy) {
  $('#generate').disabled = busy;
  $('#cancel').hidden = !busy;
}

async function generate() {
  clearFormError();
  const params = collectParams();
  let body;
  if (state.seedFile) {
    body = new FormData();
    body.append('seed', state.seedFile, state.seedFile.name);
    body.append('params', new Blob([JSON.stringify(params)], { type: 'application/json' }), 'params.json');
  }
  setBusy(true);
  $('#progress').value = 0;
  $('#job-status').textContent = 'submitting…';
  $('#job-status').dataset.state = 'submitting';
  try {
    const r = body ? await api('/api/generate', { method: 'POST', body }) : await api('/api/generate', { method: 'POST', json: params });
    state.job = String(r.job);
    $('#job-status').textContent = 'queued';
    $('#progress').dataset.job = state.job;
    followJob(state.job);
  } catch (e) {
    setBusy(false);
    $('#job-status').textContent = 'not started';
    $('#job-status').dataset.state = 'refused';
    showFormError(e.message, e.field);
  }
}

function followJob(id) {
  stopFollowing();
  if (window.EventSource) {
    const es = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`);
    state.events = es;
    const onData = (ev) => {
      try {
        onJob(id, JSON.parse(ev.data));
      } catch {
        /* a keep-alive or a line that is not JSON */
      }
    };
    es.onmessage = onData;
    for (const name of ['progress', 'state', 'done', 'failed', 'cancelled', 'job']) es.addEventListener(name, onData);
    es.onerror = () => {
      // The stream ended or broke before a final state: poll instead.
      if (state.job === id) {
        es.close();
        state.events = null;
        pollJob(id);
      }
    };
  } else {
    pollJob(id);
  }
}

function pollJob(id) {
  clearTimeout(state.pollTimer);
  state.pollTimer = setTimeout(async () => {
    if (state.job !== id) return;
    try {
      onJob(id, await api(`/api/jobs/${encodeURIComponent(id)}`));
    } catch (e) {
      onJob(id, { state: 'failed', error: e.message });
      return;
    }
    if (state.job === id) pollJob(id);
  }, 400);
}

function stopFollowing() {
  if (state.events) state.events.close();
  state.events = null;
  clearTimeout(state.pollTimer);
}

function onJob(id, j) {
  if (state.job !== id || !j) return;
  const st = j.state || 'running';
  const p = typeof j.progress === 'number' ? Math.max(0, Math.min(1, j.progress)) : null;
  if (p != null) $('#progress').value = st === 'done' ? 1 : p;
  $('#job-status').textContent = st === 'running' && p != null ? `running ${Math.round(p * 100)}%` : st;
  $('#job-status').dataset.state = st;
  if (st === 'done' || st === 'failed' || st === 'cancelled') {
    state.job = null;
    stopFollowing();
    setBusy(false);
    if (st === 'done') {
      $('#progress').value = 1;
      const pieces = (j.pieces && j.pieces.length ? j.pieces : [j.piece]).filter((x) => x != null).map(String);
      showVariations(pieces);
      loadLibrary();
    } else if (st === 'failed') {
      showFormError(`generation failed: ${j.error || 'no reason given'}`, j.field);
    } else {
      $('#progress').value = 0;
    }
  }
}

async function cancelJob() {
  const id = state.job;
  if (!id) return;
  $('#job-status').textContent = 'cancelling…';
  try {
    await api(`/api/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
  } catch (e) {
    showFormError(`cancel: ${e.message}`);
  }
  // The final state arrives over the event stream; poll in case the stream is gone.
  if (!state.events && state.job === id) pollJob(id);
}

// ---------- the result ----------

function showVariations(ids) {
  state.pieces = ids;
  const tabs = $('#variations');
  tabs.replaceChildren();
  if (ids.length > 1) {
    ids.forEach((id, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = `variation ${i + 1}`;
      b.dataset.piece = id;
      b.setAttribute('role', 'tab');
      b.addEventListener('click', () => showPiece(id));
      tabs.append(b);
    });
  }
  if (ids.length) showPiece(ids[0]);
}

async function showPiece(id, { play = false } = {}) {
  id = String(id);
  state.piece = id;
  for (const b of $('#variations').children) b.classList.toggle('active', b.dataset.piece === id);
  markCurrentRow();
  const audio = $('#audio');
  audio.pause();
  $('#result').dataset.piece = id;
  $('#piece-title').textContent = `piece ${id}`;
  for (const [sel, ext] of [['#dl-mid', '.mid'], ['#dl-musicxml', '.musicxml'], ['#dl-wav', '.wav']]) {
    const a = $(sel);
    a.href = pieceUrl(id, ext);
    a.download = `xlstm-music-${id}${ext}`;
    a.classList.remove('disabled');
  }
  let meta = null;
  try {
    meta = await api(pieceUrl(id));
  } catch (e) {
    $('#piece-details').textContent = `piece ${id}: ${e.message}`;
  }
  if (state.piece !== id) return;
  if (meta) {
    $('#piece-details').textContent = describePiece(meta);
    setStars($('#rating'), id, meta.rating || 0);
  }
  loadRoll(id);
  loadAudio(id, play);
  loadNotation(id);
}

function paramsOf(meta) {
  return meta?.params || meta?.parameters || {};
}

function describePiece(meta) {
  const p = paramsOf(meta);
  const parts = [];
  if (meta.model) parts.push(`model ${meta.model}`);
  for (const k of ['genre', 'mood', 'key', 'scale']) if (p[k]) parts.push(`${k} ${p[k]}`);
  if (p.tempo) parts.push(`${p.tempo} BPM`);
  if (p.bars) parts.push(`${p.bars} bars`);
  if (p.seconds) parts.push(`${p.seconds} s`);
  for (const [k, label] of [['temperature', 'T'], ['top_p', 'top-p'], ['stop_prob', 'stop'], ['random_seed', 'seed #']]) {
    if (p[k] !== undefined && p[k] !== null) parts.push(`${label} ${p[k]}`);
  }
  const t = meta.timings || {};
  const secs = t.generate_s ?? t.wall_s ?? t.wall_seconds ?? t.generate_seconds;
  if (typeof secs === 'number') parts.push(`generated in ${secs.toFixed(2)} s`);
  if (meta.stop_reason) parts.push(`stopped by ${meta.stop_reason}`);
  return parts.join(' · ');
}

async function loadRoll(id) {
  const c = $('#roll');
  try {
    const j = await api(pieceUrl(id, '.json'));
    if (state.piece !== id) return;
    const notes = (j.notes || []).map((n) => ({ ...n, seed: !!n.seed }));
    const seedNotes = notes.filter((n) => n.seed);
    const seedEnd = j.seed_end_s ?? j.continuation_s ?? (seedNotes.length ? Math.max(...seedNotes.map((n) => n.end_s)) : null);
    roll.setNotes(notes, { duration: j.duration || j.duration_s || 0, seedEnd });
    $('#time').textContent = `0:00 / ${fmtTime(roll.duration)}`;
  } catch (e) {
    roll.setNotes([]);
    c.dataset.error = e.message;
  }
}

function loadAudio(id, play) {
  const audio = $('#audio');
  const on = !!state.health?.audio;
  $('#audio-off').hidden = on;
  $('#play').hidden = !on;
  $('#dl-wav').classList.toggle('disabled', !on);
  if (!on) {
    audio.removeAttribute('src');
    return;
  }
  $('#play').disabled = false;
  $('#play').textContent = 'Play';
  audio.src = pieceUrl(id, '.wav');
  audio.load();
  if (play) audio.play().catch(() => {});
}

function wirePlayer() {
  const audio = $('#audio');
  const btn = $('#play');
  btn.addEventListener('click', () => {
    if (audio.paused) audio.play().catch((e) => showAudioError(e));
    else audio.pause();
  });
  audio.addEventListener('play', () => {
    btn.textContent = 'Pause';
    animate();
  });
  audio.addEventListener('pause', () => (btn.textContent = 'Play'));
  audio.addEventListener('ended', () => {
    btn.textContent = 'Play';
    roll.setPlayhead(null);
  });
  audio.addEventListener('error', () => {
    if (audio.getAttribute('src')) showAudioError(new Error('the WAV could not be loaded'));
  });
  const animate = () => {
    const t = audio.currentTime;
    roll.setPlayhead(audio.paused && t === 0 ? null : t);
    $('#time').textContent = `${fmtTime(t)} / ${fmtTime(roll.duration || audio.duration)}`;
    if (!audio.paused) requestAnimationFrame(animate);
  };
  audio.addEventListener('seeked', animate);
  roll.onSeek = (t) => {
    if (!audio.getAttribute('src')) return;
    audio.currentTime = t;
    animate();
  };
}

function showAudioError(e) {
  const off = $('#audio-off');
  off.hidden = false;
  off.textContent = `audio: ${e.message}`;
}

async function loadNotation(id) {
  const box = $('#notation');
  const status = $('#notation-status');
  if (!window.opensheetmusicdisplay) {
    status.textContent = 'notation off: the notation renderer is not built into this server (run scripts/setup.sh, then rebuild).';
    return;
  }
  status.textContent = 'rendering notation…';
  try {
    const res = await fetch(pieceUrl(id, '.musicxml'));
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const xml = await res.text();
    if (state.piece !== id) return;
    // One renderer for the page's lifetime (each one would keep its own resize listener).
    state.osmd ??= new window.opensheetmusicdisplay.OpenSheetMusicDisplay(box, {
      backend: 'svg',
      autoResize: true,
      drawTitle: false,
      drawingParameters: 'compacttight',
    });
    const osmd = state.osmd;
    delete box.dataset.piece;
    await osmd.load(xml);
    if (state.piece !== id) return;
    osmd.render();
    status.textContent = '';
    box.dataset.piece = id;
  } catch (e) {
    if (state.piece !== id) return;
    state.osmd?.clear?.();
    status.textContent = `notation could not be rendered: ${e.message || e}`;
  }
}

// ---------- rating ----------

function setStars(el, id, rating) {
  el.replaceChildren();
  el.dataset.rating = String(rating || 0);
  el.dataset.piece = id;
  for (let i = 1; i <= 5; i++) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'star' + (i <= rating ? ' on' : '');
    b.textContent = i <= rating ? '★' : '☆';
    b.title = `rate ${i} of 5`;
    b.dataset.value = String(i);
    b.addEventListener('click', () => rate(id, i));
    el.append(b);
  }
}

async function rate(id, rating) {
  try {
    await api(`${pieceUrl(id)}/rating`, { method: 'POST', json: { rating } });
  } catch (e) {
    showFormError(`rating: ${e.message}`);
    return;
  }
  if (state.piece === id) setStars($('#rating'), id, rating);
  for (const el of document.querySelectorAll(`#library .stars[data-piece="${CSS.escape(id)}"]`)) setStars(el, id, rating);
}

// ---------- the library ----------

async function loadLibrary() {
  let list = [];
  try {
    const data = await api('/api/pieces');
    list = Array.isArray(data) ? data : data?.pieces || [];
  } catch (e) {
    $('#library-empty').textContent = `library: ${e.message}`;
    $('#library-empty').hidden = false;
    return;
  }
  const body = $('#library tbody');
  body.replaceChildren();
  $('#library-empty').hidden = list.length > 0;
  $('#library-empty').textContent = 'No pieces yet.';
  for (const meta of list) {
    const id = String(meta.id);
    const tr = document.createElement('tr');
    tr.dataset.piece = id;
    const p = paramsOf(meta);
    const cell = (text, cls) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      tr.append(td);
      return td;
    };
    cell(id, 'id');
    cell(fmtWhen(meta.created ?? meta.created_at ?? meta.time), 'when');
    cell(meta.model || '');
    const paramText = [
      ...['genre', 'mood', 'key', 'scale'].map((k) => p[k]).filter(Boolean),
      p.bars ? `${p.bars} bars` : p.seconds ? `${p.seconds} s` : '',
      p.temperature !== undefined ? `T=${p.temperature}` : '',
      p.top_p !== undefined && p.top_p !== 1 ? `top-p ${p.top_p}` : '',
      p.random_seed !== undefined ? `#${p.random_seed}` : '',
      meta.seed?.name ? `seed ${meta.seed.name}` : '',
    ].filter(Boolean).join(' · ');
    cell(paramText, 'params').title = paramText;
    const dur = meta.duration ?? meta.duration_s ?? meta.music_seconds;
    cell(typeof dur === 'number' ? `${dur.toFixed(1)} s` : (p.bars ? `${p.bars} bars` : p.seconds ? `${p.seconds} s` : ''));
    const stars = document.createElement('span');
    stars.className = 'stars';
    setStars(stars, id, meta.rating || 0);
    cell('').append(stars);
    const actions = cell('', 'actions');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open';
    open.textContent = 'open';
    open.title = 'show it above';
    open.addEventListener('click', () => showVariations([id]));
    const replay = document.createElement('button');
    replay.type = 'button';
    replay.className = 'replay';
    replay.textContent = '▶';
    replay.title = 'play it';
    replay.addEventListener('click', () => {
      state.pieces = [id];
      $('#variations').replaceChildren();
      showPiece(id, { play: true });
    });
    replay.hidden = !state.health?.audio;
    actions.append(open, replay);
    for (const [ext, label] of [['.mid', 'mid'], ['.musicxml', 'xml'], ['.wav', 'wav']]) {
      if (ext === '.wav' && !state.health?.audio) continue;
      const a = document.createElement('a');
      a.href = pieceUrl(id, ext);
      a.download = `xlstm-music-${id}${ext}`;
      a.textContent = label;
      actions.append(a);
    }
    const del = document.createElement('button');
    del.type = 'button';
    del.className = 'link delete';
    del.textContent = 'delete';
    del.addEventListener('click', async () => {
      if (!confirm(`Delete piece ${id}?`)) return;
      try {
        await api(pieceUrl(id), { method: 'DELETE' });
        tr.remove();
        $('#library-empty').hidden = body.children.length > 0;
      } catch (e) {
        showFormError(`delete: ${e.message}`);
      }
    });
    actions.append(del);
    body.append(tr);
  }
  markCurrentRow();
}

function markCurrentRow() {
  for (const tr of document.querySelectorAll('#library tbody tr')) tr.classList.toggle('current', tr.dataset.piece === state.piece);
}

function fmtWhen(v) {
  if (v == null || v === '') return '';
  const d = typeof v === 'number' ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
  if (isNaN(d)) return String(v);
  return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

// ---------- start ----------

async function main() {
  seedRoll = new PianoRoll($('#seed-roll'));
  seedRoll.setNotes([]);
  roll = new PianoRoll($('#roll'), {});
  roll.setNotes([]);
  fillKeysAndScales();
  wireSeed();
  wireControls();
  wirePlayer();
  $('#library-refresh').addEventListener('click', loadLibrary);
  await loadHealth();
  const audioOn = !!state.health?.audio;
  $('#audio-off').hidden = audioOn;
  $('#play').hidden = !audioOn;
  await loadModels();
  await loadLibrary();
  document.body.dataset.ready = '1';
}

// The notation script is a deferred classic script: wait for it (or its failure) before asking for health.
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();
