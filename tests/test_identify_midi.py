"""MIDI queries: files made here with mido, read back as one melody line."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest

mido = pytest.importorskip("mido")

from folkclip.identify import query_limits as QL
from folkclip.identify.errors import NoMelodyFound, QueryError
from folkclip.identify.midi import read_midi, skyline

TPB = 480  # ticks per beat


def _midi(tracks: list[list[tuple[int, int, int, int]]], *, tempo_us: int = 500_000,
          file_type: int = 1, tempo_changes: tuple[tuple[int, int], ...] = ()) -> bytes:
    """A MIDI file: each track a list of ``(start_tick, length_ticks, pitch, channel)``."""
    mid = mido.MidiFile(type=file_type, ticks_per_beat=TPB)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=tempo_us, time=0))
    last = 0
    for tick, tempo in tempo_changes:
        meta.append(mido.MetaMessage("set_tempo", tempo=tempo, time=tick - last))
        last = tick
    mid.tracks.append(meta)
    for notes in tracks:
        events = []
        for start, length, pitch, ch in notes:
            events.append((start, 1, mido.Message("note_on", note=pitch, velocity=80,
                                                   channel=ch)))
            events.append((start + length, 0, mido.Message("note_off", note=pitch,
                                                            velocity=0, channel=ch)))
        track, now = mido.MidiTrack(), 0
        for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def _line(pitches, beat=TPB // 2, ch=0):
    return [(i * beat, beat, p, ch) for i, p in enumerate(pitches)]


MELODY = [62, 64, 66, 67, 69, 71, 73, 74]


def test_melody_track_read_in_seconds():
    q = read_midi(_midi([_line(MELODY)]), "tune.mid")
    assert q.midi_pitch.tolist() == MELODY
    assert q.onset_s == pytest.approx(np.arange(8) * 0.25)  # eighths at 120 bpm
    assert q.duration_s == pytest.approx(np.full(8, 0.25))
    assert q.source == "tune.mid"


def test_main_track_is_the_one_with_most_notes_and_drums_are_ignored():
    bass = [(i * TPB * 2, TPB * 2, 38, 1) for i in range(2)]
    drums = [(i * TPB // 4, TPB // 4, 36, 9) for i in range(40)]  # more notes, but drums
    q = read_midi(_midi([bass, _line(MELODY), drums]), "band.mid")
    assert q.midi_pitch.tolist() == MELODY


def test_type0_file_parts_told_apart_by_channel():
    chords = [(0, TPB * 4, p, 1) for p in (50, 54, 57)]
    q = read_midi(_midi([_line(MELODY) + chords], file_type=1), "one-track.mid")
    assert q.midi_pitch.tolist() == MELODY


def test_skyline_keeps_the_highest_voice_of_a_part():
    # melody over held chord tones in the same part: chords below are hidden
    notes = [(0.0, 1.0, 50), (0.0, 0.5, 62), (0.5, 1.0, 64), (0.25, 0.75, 55),
             (1.0, 1.5, 67), (1.0, 1.5, 60), (1.2, 1.4, 70), (1.5, 1.505, 80)]
    line = skyline(notes)
    assert [p for _, _, p in line] == [62, 64, 67, 70]
    assert line[2] == (1.0, 1.2, 67)  # cut by the higher note starting under it
    assert all(a[1] <= b[0] + 1e-9 for a, b in itertools.pairwise(line))  # monophonic


def test_tempo_changes_are_honoured():
    data = _midi([_line(MELODY)], tempo_changes=((TPB * 2, 1_000_000),))  # 60 bpm at beat 2
    q = read_midi(data, "rit.mid")
    assert q.onset_s[:5] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert q.onset_s[5:] == pytest.approx([1.5, 2.0, 2.5])


def test_read_from_a_path(tmp_path):
    path = tmp_path / "t.mid"
    path.write_bytes(_midi([_line(MELODY)]))
    assert read_midi(path, "t.mid").midi_pitch.tolist() == MELODY


@pytest.mark.parametrize("data, error, words", [
    (b"", QueryError, "empty (0 bytes)"),
    (b"RIFF....WAVEfmt ", QueryError, "not a MIDI file"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00", QueryError, "unreadable MIDI file"),
])
def test_garbage_is_a_clear_error(data, error, words):
    with pytest.raises(error, match="bad.mid: ") as err:
        read_midi(data, "bad.mid")
    assert words in str(err.value)


def test_truncated_midi_is_a_clear_error():
    data = _midi([_line(MELODY)])
    with pytest.raises(QueryError, match="unreadable MIDI file"):
        read_midi(data[: len(data) - 20], "cut.mid")


def test_drums_only_and_empty_files_have_no_melody():
    drums = [(i * TPB, TPB, 36, 9) for i in range(8)]
    with pytest.raises(NoMelodyFound, match="only drum notes"):
        read_midi(_midi([drums]), "drums.mid")
    with pytest.raises(NoMelodyFound, match="no notes"):
        read_midi(_midi([[]]), "empty.mid")


def test_oversized_file_is_refused_before_parsing(tmp_path):
    big = b"MThd" + bytes(QL.MAX_MIDI_BYTES)
    with pytest.raises(QueryError, match="over the limit"):
        read_midi(big, "big.mid")
    path = tmp_path / "big.mid"
    path.write_bytes(big)
    with pytest.raises(QueryError, match="over the limit"):
        read_midi(path, "big.mid")


def test_a_huge_delta_time_ends_reading_instead_of_costing_memory():
    notes = _line(MELODY) + [(2**27, TPB, 80, 0)]  # ~2**27 ticks: hours later
    q = read_midi(_midi([notes]), "late.mid")
    assert q.midi_pitch.tolist() == MELODY


def test_damaged_files_are_read_or_refused_never_crash():
    base = bytearray(_midi([_line(MELODY * 4), [(0, TPB, 50, 1)]]))
    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(300):
        data = bytearray(base)
        for _ in range(int(rng.integers(1, 6))):
            at = int(rng.integers(0, len(data)))
            if rng.random() < 0.7:
                data[at] = int(rng.integers(0, 256))
            else:
                del data[at:]
        try:
            q = read_midi(bytes(data), "fuzz.mid")
        except QueryError as err:
            outcomes.add("refused")
            assert str(err).startswith("fuzz.mid: ")
        else:
            outcomes.add("read")
            assert np.all(q.duration_s > 0) and np.all(np.diff(q.onset_s) >= 0)
    assert outcomes == {"read", "refused"}
