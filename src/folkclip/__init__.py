"""folkclip: joint embeddings of folk-tune titles and melodies."""

__version__ = "0.1.0"


def load(path):  # noqa: ANN001, ANN201 - thin lazy wrapper
    """Load an exported model from a run folder (see :func:`folkclip.export.load`)."""
    from folkclip.export import load as _load

    return _load(path)
