// pianoroll.js: draws notes ({pitch, start_s, end_s, velocity, drum, seed}) on a canvas as a piano roll: the
// seed in one colour, the continuation in another, drums as ticks along the bottom, a time grid, a playhead
// and click-to-seek. Not a player: the page moves the playhead from the <audio> element's clock.

export const ROLL_COLOURS = {
  background: '#14171f',
  grid: '#262b38',
  gridStrong: '#394055',
  label: '#8a93a8',
  seed: '#4f8fea',         // seed notes
  continuation: '#f28c28', // generated notes
  drum: '#9aa3b5',
  boundary: '#e8e8e8',
  playhead: '#ff4d6d',
};

export class PianoRoll {
  constructor(canvas, { onSeek } = {}) {
    this.canvas = canvas;
    this.notes = [];
    this.duration = 0;
    this.seedEnd = null;   // seconds where the continuation starts, or null
    this.playhead = null;  // seconds, or null when hidden
    this.onSeek = onSeek;
    this.base = document.createElement('canvas');  // the notes, drawn once per resize or new notes
    canvas.addEventListener('click', (e) => {
      if (!this.onSeek || !this.duration) return;
      const rect = canvas.getBoundingClientRect();
      const x = e.clientX - rect.left;
      const t = this.xToTime(x);
      if (t >= 0 && t <= this.duration) this.onSeek(t);
    });
    new ResizeObserver(() => this.render()).observe(canvas);
  }

  // notes: [{pitch, start_s, end_s, velocity, drum, seed}]; duration in seconds (defaults to the last end).
  setNotes(notes, { duration, seedEnd = null } = {}) {
    this.notes = notes || [];
    this.duration = Math.max(duration || 0, this.notes.reduce((m, n) => Math.max(m, n.end_s), 0));
    this.seedEnd = seedEnd;
    const seedCount = this.notes.filter((n) => n.seed).length;
    // Figures for people and for the browser tests: what the roll holds.
    this.canvas.dataset.notes = String(this.notes.length);
    this.canvas.dataset.seedNotes = String(seedCount);
    this.canvas.dataset.newNotes = String(this.notes.length - seedCount);
    this.canvas.dataset.duration = this.duration.toFixed(3);
    this.render();
  }

  setPlayhead(seconds) {
    this.playhead = seconds;
    this.canvas.dataset.playhead = seconds == null ? '' : seconds.toFixed(3);
    this.blit();
  }

  layout() {
    const left = 34;
    const right = 8;
    const top = 6;
    const bottom = 20;
    const w = this.cssWidth;
    const h = this.cssHeight;
    const pitched = this.notes.filter((n) => !n.drum);
    const hasDrums = pitched.length !== this.notes.length;
    let lo = pitched.reduce((m, n) => Math.min(m, n.pitch), 127);
    let hi = pitched.reduce((m, n) => Math.max(m, n.pitch), 0);
    if (lo > hi) { lo = 48; hi = 84; }
    lo = Math.max(0, lo - 2);
    hi = Math.min(127, hi + 2);
    const drumBand = hasDrums ? 18 : 0;
    return { left, right, top, bottom, w, h, lo, hi, drumBand,
      plotW: Math.max(1, w - left - right), plotH: Math.max(1, h - top - bottom - drumBand) };
  }

  timeToX(t) {
    const L = this.lay;
    return L.left + (this.duration > 0 ? (t / this.duration) * L.plotW : 0);
  }

  xToTime(x) {
    const L = this.lay;
    return ((x - L.left) / L.plotW) * this.duration;
  }

  render() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    this.cssWidth = c.clientWidth || 600;
    this.cssHeight = c.clientHeight || 200;
    for (const cv of [c, this.base]) {
      cv.width = Math.round(this.cssWidth * dpr);
      cv.height = Math.round(this.cssHeight * dpr);
    }
    const g = this.base.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const L = (this.lay = this.layout());
    g.fillStyle = ROLL_COLOURS.background;
    g.fillRect(0, 0, L.w, L.h);
    g.font = '10px system-ui, sans-serif';
    g.textBaseline = 'middle';
    const rowH = L.plotH / (L.hi - L.lo + 1);
    const yOf = (p) => L.top + (L.hi - p) * rowH;
    // Octave lines at every C, labelled.
    for (let p = L.lo; p <= L.hi; p++) {
      if (p % 12 !== 0) continue;
      const y = yOf(p) + rowH;
      g.fillStyle = ROLL_COLOURS.gridStrong;
      g.fillRect(L.left, Math.round(y), L.plotW, 1);
      g.fillStyle = ROLL_COLOURS.label;
      g.fillText(`C${p / 12 - 1}`, 4, y - rowH / 2);
    }
    // Time grid: a line per second (per 5 s or 10 s on long pieces), labelled.
    if (this.duration > 0) {
      // The smallest step that leaves about 44 px between labels.
      const pxPerSecond = L.plotW / this.duration;
      const step = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300].find((s) => s * pxPerSecond >= 44) || 600;
      g.textBaseline = 'alphabetic';
      for (let i = 0; i * step <= this.duration + 1e-9; i++) {
        const t = i * step;
        const x = Math.round(this.timeToX(t));
        g.fillStyle = ROLL_COLOURS.grid;
        g.fillRect(x, L.top, 1, L.plotH + L.drumBand);
        if (x + 30 > L.w) continue;  // no label cut by the right edge
        g.fillStyle = ROLL_COLOURS.label;
        g.fillText(t >= 60 ? `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}` : `${t}s`, x + 2, L.h - 6);
      }
    }
    // Notes: continuation drawn over the seed; brighter for louder notes.
    const drawNote = (n) => {
      const x0 = this.timeToX(n.start_s);
      const x1 = Math.max(x0 + 2, this.timeToX(n.end_s));
      g.globalAlpha = 0.55 + 0.45 * Math.min(1, (n.velocity || 64) / 127);
      if (n.drum) {
        g.fillStyle = n.seed ? ROLL_COLOURS.seed : ROLL_COLOURS.drum;
        g.fillRect(x0, L.top + L.plotH + 4, 2, L.drumBand - 6);
      } else {
        g.fillStyle = n.seed ? ROLL_COLOURS.seed : ROLL_COLOURS.continuation;
        g.fillRect(x0, yOf(n.pitch) + 0.5, x1 - x0 - 0.5, Math.max(1.5, rowH - 1));
      }
    };
    for (const n of this.notes) if (n.seed) drawNote(n);
    for (const n of this.notes) if (!n.seed) drawNote(n);
    g.globalAlpha = 1;
    if (this.seedEnd != null && this.seedEnd > 0 && this.duration > 0) {
      const x = Math.round(this.timeToX(this.seedEnd));
      g.fillStyle = ROLL_COLOURS.boundary;
      g.setLineDash?.([4, 3]);
      g.strokeStyle = ROLL_COLOURS.boundary;
      g.beginPath();
      g.moveTo(x + 0.5, L.top);
      g.lineTo(x + 0.5, L.top + L.plotH + L.drumBand);
      g.stroke();
      g.setLineDash?.([]);
    }
    if (!this.notes.length) {
      g.fillStyle = ROLL_COLOURS.label;
      g.textBaseline = 'middle';
      g.textAlign = 'center';
      g.font = '13px system-ui, sans-serif';
      g.fillText(this.canvas.dataset.empty || 'no notes', L.w / 2, L.h / 2);
      g.textAlign = 'start';
    }
    this.blit();
  }

  blit() {
    const c = this.canvas;
    if (!this.lay) return;
    const g = c.getContext('2d');
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.drawImage(this.base, 0, 0);
    if (this.playhead != null && this.duration > 0) {
      const dpr = window.devicePixelRatio || 1;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      const x = Math.round(this.timeToX(Math.min(this.playhead, this.duration)));
      g.fillStyle = ROLL_COLOURS.playhead;
      g.fillRect(x - 1, 0, 2, this.lay.h);
    }
  }
}
