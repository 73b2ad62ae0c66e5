#!/usr/bin/python3
# mido_notes.py: an independent reader for the MIDI tests: prints, per file, the notes that mido (Debian's
# python3-mido) finds, as one JSON line {"file", "division", "notes": [[track, channel, pitch, velocity,
# onset_tick, offset_tick, onset_s, offset_s], ...]}. Not our reader: it shares no code with src/midi/.
# Pairing: note-on (velocity > 0) with the next note-off (or velocity-0 note-on) of the same (track, channel,
# pitch), first in first out; notes open at the end of a track end at its last tick. Seconds come from the
# set_tempo events of all tracks, integrated exactly with fractions (SMPTE divisions: fixed tick length).
import json
import sys
from collections import defaultdict, deque
from fractions import Fraction

import mido


def seconds_function(mid, tempo_events):
    division = mid.ticks_per_beat & 0xFFFF  # mido keeps an SMPTE division as a negative number
    if division & 0x8000:  # SMPTE: -fps in the high byte, ticks per frame in the low byte
        fps = 256 - (division >> 8)
        tpf = division & 0xFF
        rate = Fraction(30000, 1001) if fps == 29 else Fraction(fps)
        return lambda tick: Fraction(tick) / (rate * tpf)
    tempo_events.sort(key=lambda e: e[0])  # stable: file order within a tick
    segs = [(0, Fraction(0), 500000)]  # (tick, seconds at tick, tempo from tick on)
    for tick, tempo in tempo_events:
        t0, s0, us0 = segs[-1]
        s = s0 + Fraction((tick - t0) * us0, 1000000 * division)
        if tick == t0:
            segs[-1] = (tick, s0, tempo)
        else:
            segs.append((tick, s, tempo))

    def sec(tick):
        lo = 0
        for i, seg in enumerate(segs):
            if seg[0] <= tick:
                lo = i
            else:
                break
        t0, s0, us0 = segs[lo]
        return s0 + Fraction((tick - t0) * us0, 1000000 * division)

    return sec


def notes_of(path):
    mid = mido.MidiFile(path, clip=False)
    notes = []
    tempo_events = []
    for ti, track in enumerate(mid.tracks):
        tick = 0
        open_notes = defaultdict(deque)
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempo_events.append((tick, msg.tempo))
            elif msg.type == "note_on" and msg.velocity > 0:
                open_notes[(msg.channel, msg.note)].append((tick, msg.velocity))
            elif msg.type in ("note_off", "note_on"):
                q = open_notes[(msg.channel, msg.note)]
                if q:
                    on, vel = q.popleft()
                    notes.append([ti, msg.channel, msg.note, vel, on, tick])
        for (ch, pitch), q in open_notes.items():
            for on, vel in q:
                notes.append([ti, ch, pitch, vel, on, tick])
    sec = seconds_function(mid, tempo_events)
    for n in notes:
        n.append(float(sec(n[4])))
        n.append(float(sec(n[5])))
    notes.sort()
    return {"file": path, "division": mid.ticks_per_beat, "type": mid.type, "notes": notes}


def main():
    for path in sys.argv[1:]:
        try:
            out = notes_of(path)
        except Exception as e:  # report, do not stop: the C++ test decides
            out = {"file": path, "error": str(e)}
        print(json.dumps(out))


if __name__ == "__main__":
    main()
