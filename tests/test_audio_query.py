"""Audio queries: melodies synthesized here with numpy, pitch-tracked back into notes; and
every kind of recording that holds no melody or no audio at all."""

from __future__ import annotations

import re

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")

from melody_audio import encode, synth  # tests/melody_audio.py

from folkclip.audio import read_audio
from folkclip.audio.pitch import segment
from folkclip.identify import query_limits as QL
from folkclip.identify.errors import NoMelodyFound, QueryError

SR_HZ = 22_050
# "The Kesh"-like opening in G: a repeated note (69, 69) tests attack splitting
MELODY = [67, 67, 69, 71, 69, 67, 64, 62, 67, 71, 74, 71, 72, 69, 66, 67]
BEATS = [1, 0.5, 0.5, 1, 1, 1, 0.5, 0.5, 1, 1, 1, 1, 1, 1, 1, 2]


@pytest.fixture(scope="module")
def melody_wav() -> bytes:
    return encode(synth(MELODY * 2, BEATS * 2))


def _intervals(q) -> list[int]:
    return np.round(np.diff(q.midi_pitch)).astype(int).tolist()


def test_sawtooth_melody_gives_its_notes_intervals_and_durations(melody_wav):
    q = read_audio(melody_wav, "tune.wav")
    assert q.kind == "audio"  # identification calibrates recordings apart
    assert len(q) == 2 * len(MELODY)
    assert _intervals(q) == np.diff(MELODY * 2).tolist()
    assert q.midi_pitch == pytest.approx(np.array(MELODY * 2, float), abs=0.15)
    ratio = q.duration_s / q.duration_s[0]  # tempo-free: durations relative to the first
    assert ratio == pytest.approx(np.array(BEATS * 2) / BEATS[0], rel=0.25)
    assert np.all(np.diff(q.onset_s) > 0) and q.source == "tune.wav"


@pytest.mark.parametrize("fmt", ["FLAC", "OGG", "MP3"])
def test_compressed_formats(fmt):
    y = synth(MELODY, BEATS)
    q = read_audio(encode(y, fmt=fmt), f"tune.{fmt.lower()}")
    assert _intervals(q) == np.diff(MELODY).tolist()


def test_sine_detuned_resampled_stereo_from_a_path(tmp_path):
    y = synth(MELODY, BEATS, wave="sine", cents=30, sr_hz=44_100)
    path = tmp_path / "tune.wav"
    sf.write(path, np.stack([y, 0.5 * y], axis=1), 44_100)  # (N, 2) stereo
    q = read_audio(path, "tune.wav")
    assert _intervals(q) == np.diff(MELODY).tolist()
    assert np.median(q.midi_pitch - np.array(MELODY)) == pytest.approx(0.3, abs=0.15)


def test_transposition_and_tempo_keep_the_intervals():
    q = read_audio(encode(synth([p + 5 for p in MELODY], BEATS, beat_s=0.2)), "fast.wav")
    assert _intervals(q) == np.diff(MELODY).tolist()


def test_long_recordings_are_cut_to_the_limit():
    y = synth(MELODY * 12, BEATS * 12, sr_hz=8_000, beat_s=0.4)  # 86 s
    assert len(y) / 8_000 > QL.MAX_AUDIO_SECONDS
    q = read_audio(encode(y, 8_000), "long.wav")
    end_s = q.onset_s[-1] + q.duration_s[-1]
    assert QL.MAX_AUDIO_SECONDS - 2 < end_s <= QL.MAX_AUDIO_SECONDS + 0.05  # + one frame


@pytest.mark.parametrize("name, make, words", [
    ("silence", lambda r: np.zeros(3 * SR_HZ, np.float32), "silent"),
    ("white noise", lambda r: 0.3 * r.standard_normal(5 * SR_HZ).astype(np.float32), ""),
    ("chords", lambda r: np.concatenate([synth([60], [16]) + synth([64], [16]) +
                                         synth([67], [16]) + synth([71], [16]),
                                         synth([62], [16]) + synth([65], [16]) +
                                         synth([69], [16])]) / 4, ""),
    ("clipped", lambda r: np.clip(20 * synth(MELODY, BEATS), -1, 1), "clipped"),
    ("a click", lambda r: np.r_[np.ones(10), np.zeros(SR_HZ // 4)].astype(np.float32),
     "long"),
])
def test_recordings_without_a_melody(name, make, words):
    y = make(np.random.default_rng(0))
    with pytest.raises(NoMelodyFound, match=f"{name}: no melody found") as err:
        read_audio(encode(y), name)
    assert words in str(err.value)


@pytest.mark.parametrize("data, words", [
    (b"", "empty (0 bytes)"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt", "not a readable audio file"),
    (b"%PDF-1.4 this is a document" * 20, "not a readable audio file"),
])
def test_unreadable_files(data, words):
    with pytest.raises(QueryError, match=re.escape(words)) as err:
        read_audio(data, "q.wav")
    assert not isinstance(err.value, NoMelodyFound)
    assert "object at 0x" not in str(err.value)


def test_truncated_wav_reads_what_is_there_or_says_why(melody_wav):
    header_only = melody_wav[:44]
    with pytest.raises(QueryError, match="no samples"):
        read_audio(header_only, "cut.wav")
    half = read_audio(melody_wav[: len(melody_wav) // 2], "half.wav")  # header says more
    assert 0.4 * 2 * len(MELODY) <= len(half) <= 0.6 * 2 * len(MELODY)


def test_oversized_upload_is_refused_before_decoding(tmp_path):
    big = b"RIFF" + bytes(QL.MAX_AUDIO_BYTES)
    with pytest.raises(QueryError, match="over the limit"):
        read_audio(big, "big.wav")
    path = tmp_path / "big.wav"
    path.write_bytes(big)
    with pytest.raises(QueryError, match="over the limit"):
        read_audio(path, "big.wav")


def test_too_many_channels_and_odd_rates_are_refused():
    y = synth(MELODY[:4], BEATS[:4])
    with pytest.raises(QueryError, match="channels"):
        read_audio(encode(np.tile(y[:, None], (1, QL.MAX_AUDIO_CHANNELS + 1))), "many.wav")
    with pytest.raises(QueryError, match="sample rate"):
        read_audio(encode(y[:4000], 2_000), "slow.wav")


def test_segment_hand_worked_track():
    nan = np.nan
    # note 60 (5 frames) | a slide frame, kept by the note it leaves | note 62 (4) | unvoiced
    # gap | 62 again (3 frames: the shortest note at a 20 ms hop)
    midi = np.array([60, 60.1, 59.9, 60, 60, 61.2, 62, 62, 61.9, 62, nan, 62, 62, 62.1])
    notes = segment(midi, onsets=np.array([], int), hop_s=0.02)
    assert [(a, b) for a, b, _ in notes] == [(0, 6), (6, 10), (11, 14)]
    assert [round(p, 1) for _, _, p in notes] == [60.0, 62.0, 62.0]
    # an onset inside a steady pitch splits a repeated note; a change held < 3 frames does not
    midi = np.array([67.0] * 10 + [69, 69] + [67.0] * 4)
    notes = segment(midi, onsets=np.array([5]), hop_s=0.02)
    assert [(a, b) for a, b, _ in notes] == [(0, 5), (5, 16)]
