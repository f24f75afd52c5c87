"""Audio queries: a recording (WAV, FLAC, Ogg, MP3) decoded, mixed to mono, bounded and
resampled, then handed to pitch tracking (:mod:`folkclip.audio.pitch`).

Decoding is ``soundfile`` (libsndfile reads all four formats, MP3 since 1.1); resampling
is ``librosa`` (soxr). Both are imported inside the functions, so ``folkclip`` imports
without the ``audio`` extra.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from folkclip.identify import query_limits as QL
from folkclip.identify.errors import NoMelodyFound, QueryError
from folkclip.identify.notes import QueryNotes
from folkclip.identify.query_file import read_bytes

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
BLOCK_FRAMES = 65_536  # frames decoded at a time while mixing down (bounds peak memory)
SILENT_RMS = 10 ** (-60 / 20)  # below -60 dBFS a recording is silence
FULL_SCALE = 0.999  # a sample at or above this magnitude is clipped


def decode(path_or_bytes: str | Path | bytes, source: str = "<audio>"
           ) -> tuple[np.ndarray, int]:
    """A recording's first :data:`~folkclip.identify.query_limits.MAX_AUDIO_SECONDS`, mono.

    Args:
        path_or_bytes: The file's path or bytes.
        source: The name used in messages.

    Returns:
        ``(y, sr_hz)``: samples ``(N,)`` float32 in [-1, 1] and their rate.

    Raises:
        QueryError: Empty, oversized, undecodable, or with too many channels or an
            impossible sample rate.
    """
    import soundfile as sf

    data = read_bytes(path_or_bytes, source, QL.MAX_AUDIO_BYTES)
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            sr_hz, channels = f.samplerate, f.channels
            if not 1 <= channels <= QL.MAX_AUDIO_CHANNELS:
                raise QueryError(f"{channels} audio channels; at most "
                                 f"{QL.MAX_AUDIO_CHANNELS} are read", source)
            if not QL.MIN_INPUT_SR_HZ <= sr_hz <= QL.MAX_INPUT_SR_HZ:
                raise QueryError(f"sample rate {sr_hz} Hz is outside "
                                 f"{QL.MIN_INPUT_SR_HZ}-{QL.MAX_INPUT_SR_HZ} Hz", source)
            max_frames = int(QL.MAX_AUDIO_SECONDS * sr_hz)
            blocks = [b.mean(axis=1) for b in f.blocks(
                blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True, frames=max_frames)]
    except QueryError:
        raise
    except (RuntimeError, ValueError, TypeError, EOFError) as err:  # libsndfile's errors
        why = str(err).rpartition(": ")[2].strip().rstrip(".")[:200]  # no object reprs
        raise QueryError(f"not a readable audio file "
                         f"({', '.join(s.lstrip('.') for s in AUDIO_SUFFIXES)}): "
                         f"{why or type(err).__name__}", source) from None
    y = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)  # (N,)
    if not len(y):
        raise QueryError("the recording holds no samples (a truncated file?)", source)
    if not np.isfinite(y).all():
        raise QueryError("the recording holds samples that are not numbers", source)
    return y, sr_hz


def prepare(y: np.ndarray, sr_hz: int, source: str = "<audio>") -> np.ndarray:
    """Checks a mono recording for silence and clipping and resamples it for analysis.

    Args:
        y: Samples ``(N,)`` at ``sr_hz``.
        sr_hz: Their rate.
        source: The name used in messages.

    Returns:
        Samples ``(M,)`` at :data:`~folkclip.identify.query_limits.ANALYSIS_SR_HZ`,
        peak-normalised.

    Raises:
        NoMelodyFound: Silence, or a recording clipped beyond
            :data:`~folkclip.identify.query_limits.MAX_CLIPPED_FRACTION`.
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if len(y) < QL.MIN_MELODY_S * sr_hz:
        raise NoMelodyFound(f"no melody found: the recording is "
                            f"{len(y) / sr_hz:.2f} s long, under {QL.MIN_MELODY_S:g} s", source)
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    if rms < SILENT_RMS:
        raise NoMelodyFound(f"no melody found: the recording is silent "
                            f"(level under {20 * np.log10(SILENT_RMS):.0f} dBFS)", source)
    clipped = float(np.mean(np.abs(y) >= FULL_SCALE))
    if clipped > QL.MAX_CLIPPED_FRACTION:
        raise NoMelodyFound(f"no melody found: the recording is clipped "
                            f"({100 * clipped:.0f}% of samples at full scale); record it "
                            "less loud", source)
    if sr_hz != QL.ANALYSIS_SR_HZ:
        y = librosa.resample(y, orig_sr=sr_hz, target_sr=QL.ANALYSIS_SR_HZ,
                             res_type="soxr_hq")
    return y / max(float(np.max(np.abs(y))), 1e-9)


def read_audio(path_or_bytes: str | Path | bytes, source: str = "<audio>") -> QueryNotes:
    """The melody of a recording: decoded, bounded, pitch-tracked and cut into notes.

    Args:
        path_or_bytes: A ``.wav``/``.flac``/``.ogg``/``.mp3`` file's path or bytes.
        source: The name used in messages (the upload's file name).

    Returns:
        Notes with onsets and durations in seconds (tempo-free: the matcher uses ratios)
        and fractional MIDI pitches.

    Raises:
        QueryError: The file cannot be read (see :func:`decode`).
        NoMelodyFound: Silence, noise, chords or clipping: no single melody line.
    """
    from folkclip.audio.pitch import track_notes

    y, sr_hz = decode(path_or_bytes, source)
    return track_notes(prepare(y, sr_hz, source), QL.ANALYSIS_SR_HZ, source)
