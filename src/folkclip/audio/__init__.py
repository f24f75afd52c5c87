"""Audio queries: a recording → the notes of its melody (:func:`read_audio`).

Decoding and checks in :mod:`folkclip.audio.read`, late-reverberation subtraction in
:mod:`folkclip.audio.dereverb`, pitch tracking and note segmentation in
:mod:`folkclip.audio.pitch`; ``soundfile`` and ``librosa`` (the ``audio`` extra) are
imported only when a recording is read.
"""

from __future__ import annotations

from folkclip.audio.read import AUDIO_SUFFIXES, read_audio

__all__ = ["AUDIO_SUFFIXES", "read_audio"]
