"""Every bound folkclip puts on a MIDI or audio query, named once, with its reason.

The readers (:mod:`folkclip.identify.midi`, :mod:`folkclip.audio`) check these where the
query enters; going past one is a :class:`~folkclip.identify.errors.QueryError` that names
the file and the limit (or, for length, a silent cut: a query is an excerpt, and the first
minute of a long recording identifies it as well as the whole). The bounds shared with ABC
queries (notes matched, fewest notes) are in :mod:`folkclip.identify.limits`. The values bound the work
and memory one absurd upload can cost, far above what a real query needs (Tunepal's
queries are 12-second recordings; a whole tune rendered by abc2midi is 20-90 s of MIDI).
"""

from __future__ import annotations

# ------------------------------------------------------------------ MIDI
MAX_MIDI_BYTES = 1 * 2**20
"""Bytes of a MIDI file: a whole tunebook as one file is ~100 KB; 1 MiB of events bounds the
parse (each event is a Python object in mido)."""

MAX_MIDI_SECONDS = 600.0
"""Seconds of a MIDI file that are read; later notes are left out. Ten minutes hold any
tune with all its repeats; a delta time of 2**28 ticks ends reading instead of costing
memory (readers that tabulate every tick would allocate gigabytes)."""

MIN_MIDI_NOTE_S = 0.01
"""A MIDI note shorter than this (10 ms) is a grace or a glitch of the file, not a note of
the melody line."""

# ------------------------------------------------------------------ audio
MAX_AUDIO_BYTES = 16 * 2**20
"""Bytes of an audio file: a minute of 44.1 kHz 16-bit stereo WAV is 10.6 MB; compressed
formats (FLAC, Ogg, MP3) are far smaller."""

MAX_AUDIO_SECONDS = 60.0
"""Seconds of a recording that are analysed; the rest is cut (decoded length is bounded
whatever the compression ratio of the file)."""

MAX_AUDIO_CHANNELS = 8
"""Channels of a recording (mixed down to mono as they are read)."""

MIN_INPUT_SR_HZ, MAX_INPUT_SR_HZ = 4_000, 384_000
"""Sample rates a recording may have: below 4 kHz the whistle's range is lost; above
384 kHz is no audio format in use."""

ANALYSIS_SR_HZ = 16_000
"""Every recording is resampled to this rate before pitch tracking: it keeps the
fundamentals of voice, fiddle, flute, whistle and accordion (up to 2.5 kHz) and their
first harmonics, and costs less than 22.05 kHz (measured in ``benchmarks/identify_audio.py``)."""

MIN_MELODY_S = 1.0
"""Voiced audio needed to call a recording a melody: less is a cough, a click or noise."""

MAX_CLIPPED_FRACTION = 0.05
"""Share of samples at full scale above which a recording is refused as clipped: its
waveform is then a square wave whose pitch cannot be trusted."""
