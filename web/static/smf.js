// smf.js: a small Standard MIDI File reader for the studio: enough to show an uploaded seed as a piano roll
// before it is sent (notes with times in seconds through the tempo map, meters, track names). Not the
// project's reader (src/midi/ is, and the server checks the seed again); it never writes MIDI.

// A reading error with the byte offset where it happened.
export class SmfError extends Error {
  constructor(message, offset) {
    super(offset === undefined ? message : `${message} (byte ${offset})`);
    this.offset = offset;
  }
}

class Reader {
  constructor(bytes, start = 0, end = bytes.length) {
    this.b = bytes;
    this.pos = start;
    this.end = end;
  }
  need(n, what) {
    if (this.pos + n > this.end) throw new SmfError(`file ends inside ${what}`, this.pos);
  }
  u8(what = 'a byte') {
    this.need(1, what);
    return this.b[this.pos++];
  }
  u16() {
    this.need(2, 'a 16-bit field');
    const v = (this.b[this.pos] << 8) | this.b[this.pos + 1];
    this.pos += 2;
    return v;
  }
  u32() {
    this.need(4, 'a 32-bit field');
    const v = this.b[this.pos] * 0x1000000 + ((this.b[this.pos + 1] << 16) | (this.b[this.pos + 2] << 8) | this.b[this.pos + 3]);
    this.pos += 4;
    return v;
  }
  vlq(what) {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.u8(what);
      v = v * 128 + (c & 0x7f);
      if (!(c & 0x80)) return v;
    }
    throw new SmfError(`${what} longer than 4 bytes`, this.pos);
  }
  tag() {
    this.need(4, 'a chunk tag');
    const s = String.fromCharCode(...this.b.subarray(this.pos, this.pos + 4));
    this.pos += 4;
    return s;
  }
}

// Parses an SMF (format 0, 1 or 2) from an ArrayBuffer or Uint8Array. Returns
// { format, ticksPerQuarter, tracks: [{name, events}], notes: [{pitch, start_s, end_s, velocity, channel,
//   drum, track}], tempos: [{tick, bpm}], timeSignatures: [{tick, numerator, denominator}], duration }.
// Throws SmfError naming the byte offset when the file is not a readable SMF.
export function parseSmf(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  const r = new Reader(bytes);
  if (bytes.length < 14) throw new SmfError('too short for a MIDI file header', 0);
  if (r.tag() !== 'MThd') throw new SmfError('not a Standard MIDI File: no "MThd" header', 0);
  const hlen = r.u32();
  if (hlen < 6) throw new SmfError(`header length ${hlen} is less than 6`, 4);
  const format = r.u16();
  const ntracks = r.u16();
  const division = r.u16();
  r.pos = 8 + hlen;
  if (format > 2) throw new SmfError(`unknown format ${format}`, 8);
  let ticksPerQuarter = division;
  let smpteSecondsPerTick = 0;
  if (division & 0x8000) {
    const fps = 256 - (division >> 8);
    const tpf = division & 0xff;
    if (!fps || !tpf) throw new SmfError('SMPTE division with zero frames or ticks', 12);
    smpteSecondsPerTick = 1 / (fps * tpf);
    ticksPerQuarter = 0;
  } else if (division === 0) {
    throw new SmfError('division (ticks per quarter) is 0', 12);
  }

  const tracks = [];
  const rawNotes = [];
  const tempos = [];
  const timeSignatures = [];
  let lastTick = 0;
  while (r.pos + 8 <= bytes.length && tracks.length < ntracks) {
    const chunkStart = r.pos;
    const tag = r.tag();
    const len = r.u32();
    const end = r.pos + len;
    if (end > bytes.length) throw new SmfError(`chunk "${tag}" of ${len} bytes runs past the end of the file`, chunkStart);
    if (tag !== 'MTrk') {  // unknown chunks are skipped, as the standard says
      r.pos = end;
      continue;
    }
    const track = { name: '', events: 0 };
    const t = new Reader(bytes, r.pos, end);
    const open = new Map();  // (channel << 7 | pitch) -> [{tick, velocity}] in order of onset
    let tick = 0;
    let status = 0;
    while (t.pos < end) {
      tick += t.vlq('a delta time');
      let b = t.u8('an event');
      if (b === 0xff) {
        const type = t.u8('a meta event type');
        const mlen = t.vlq('a meta event length');
        t.need(mlen, 'a meta event');
        const d = bytes.subarray(t.pos, t.pos + mlen);
        if (type === 0x51 && mlen === 3) {
          const usPerQuarter = (d[0] << 16) | (d[1] << 8) | d[2];
          if (usPerQuarter > 0) tempos.push({ tick, bpm: 60e6 / usPerQuarter });
        } else if (type === 0x58 && mlen >= 2) {
          timeSignatures.push({ tick, numerator: d[0], denominator: 1 << d[1] });
        } else if (type === 0x03 && !track.name) {
          track.name = new TextDecoder('latin1').decode(d);
        }
        t.pos += mlen;
        if (type === 0x2f) break;
        continue;
      }
      if (b === 0xf0 || b === 0xf7) {
        const slen = t.vlq('a sysex length');
        t.need(slen, 'a sysex event');
        t.pos += slen;
        continue;
      }
      let d1;
      if (b & 0x80) {
        if (b >= 0xf0) throw new SmfError(`system message 0x${b.toString(16)} inside a track`, t.pos - 1);
        status = b;
        d1 = t.u8('a channel message');
      } else {
        if (!status) throw new SmfError('data byte without a running status', t.pos - 1);
        d1 = b;
        b = status;
      }
      const kind = b & 0xf0;
      const channel = b & 0x0f;
      const d2 = kind === 0xc0 || kind === 0xd0 ? 0 : t.u8('a channel message');
      track.events++;
      const key = (channel << 7) | (d1 & 0x7f);
      if (kind === 0x90 && d2 > 0) {
        if (!open.has(key)) open.set(key, []);
        open.get(key).push({ tick, velocity: d2 });
      } else if (kind === 0x80 || (kind === 0x90 && d2 === 0)) {
        const q = open.get(key);
        if (q && q.length) {
          const on = q.shift();
          rawNotes.push({ pitch: d1 & 0x7f, on: on.tick, off: tick, velocity: on.velocity, channel, track: tracks.length });
        }
      }
    }
    for (const [key, q] of open) {  // notes never released end where their track ends
      for (const on of q) {
        rawNotes.push({ pitch: key & 0x7f, on: on.tick, off: tick, velocity: on.velocity, channel: key >> 7, track: tracks.length });
      }
    }
    lastTick = Math.max(lastTick, tick);
    tracks.push(track);
    r.pos = end;
  }
  if (tracks.length === 0) throw new SmfError('no "MTrk" track chunk', r.pos);

  tempos.sort((a, b) => a.tick - b.tick);
  timeSignatures.sort((a, b) => a.tick - b.tick);
  const toSeconds = ticksToSeconds(ticksPerQuarter, smpteSecondsPerTick, tempos);
  const notes = rawNotes
    .map((n) => ({
      pitch: n.pitch,
      start_s: toSeconds(n.on),
      end_s: toSeconds(Math.max(n.off, n.on)),
      velocity: n.velocity,
      channel: n.channel,
      drum: n.channel === 9,
      track: n.track,
    }))
    .sort((a, b) => a.start_s - b.start_s || a.pitch - b.pitch);
  const duration = notes.reduce((m, n) => Math.max(m, n.end_s), 0);
  return { format, ticksPerQuarter, tracks, notes, tempos, timeSignatures, duration, lengthSeconds: toSeconds(lastTick) };
}

// tick -> seconds through a tempo map sorted by tick (120 BPM before the first tempo).
function ticksToSeconds(tpq, smpteSecondsPerTick, tempos) {
  if (smpteSecondsPerTick) return (tick) => tick * smpteSecondsPerTick;
  const segs = [];
  let tick0 = 0;
  let s0 = 0;
  let spt = 0.5 / tpq;
  for (const t of tempos) {
    s0 += (t.tick - tick0) * spt;
    tick0 = t.tick;
    spt = 60 / t.bpm / tpq;
    segs.push({ tick: tick0, s: s0, spt });
  }
  return (tick) => {
    let seg = { tick: 0, s: 0, spt: 0.5 / tpq };
    for (const s of segs) {
      if (s.tick > tick) break;
      seg = s;
    }
    return seg.s + (tick - seg.tick) * seg.spt;
  };
}
