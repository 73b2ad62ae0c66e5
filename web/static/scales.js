// scales.js: the scale, raga and makam names of src/music/scales.cpp (the table generation masks pitches with)
// and the key names the server's key parser accepts. A static copy for the page's menus, not the tables
// themselves; tests/browser/studio.test.mjs checks that it still matches scales.cpp.

export const SCALE_GROUPS = [
  ['western', [
    'major', 'dorian', 'phrygian', 'lydian', 'mixolydian', 'minor', 'locrian', 'major_pentatonic',
    'minor_pentatonic', 'blues', 'major_blues', 'harmonic_minor', 'melodic_minor', 'whole_tone', 'chromatic',
  ]],
  ['Hindustani thaats and ragas', [
    'thaat_bilawal', 'thaat_kalyan', 'thaat_khamaj', 'thaat_kafi', 'thaat_asavari', 'thaat_bhairavi',
    'thaat_bhairav', 'thaat_marwa', 'thaat_purvi', 'thaat_todi', 'raga_yaman', 'raga_kalyan', 'raga_bilawal',
    'raga_khamaj', 'raga_kafi', 'raga_asavari', 'raga_bhairavi', 'raga_bhairav', 'raga_todi', 'raga_purvi',
    'raga_marwa', 'raga_malkauns', 'raga_bhupali', 'raga_durga', 'raga_hamsadhwani', 'raga_desh',
    'raga_bageshri', 'raga_bhimpalasi', 'raga_darbari', 'raga_jaunpuri', 'raga_multani', 'raga_lalit',
    'raga_kedar', 'raga_bihag', 'raga_shivaranjani', 'raga_megh',
  ]],
  ['Turkish makams', [
    'makam_rast', 'makam_ussak', 'makam_huseyni', 'makam_hicaz', 'makam_hicaz_humayun',
    'makam_zirguleli_hicaz', 'makam_hicazkar', 'makam_suzinak', 'makam_nihavend', 'makam_buselik',
    'makam_kurdi', 'makam_kurdilihicazkar', 'makam_karcigar', 'makam_segah', 'makam_huzzam', 'makam_saba',
    'makam_mahur', 'makam_cargah',
  ]],
];

const TONICS = ['C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B'];
// "C major" ... "B minor": music::parse_key text.
export const KEYS = [
  ...TONICS.map((t) => ({ value: `${t} major`, label: `${t} major` })),
  ...TONICS.map((t) => ({ value: `${t} minor`, label: `${t} minor` })),
];
