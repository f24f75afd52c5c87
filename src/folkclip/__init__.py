"""folkclip: joint embeddings of folk-tune titles and melodies."""

__version__ = "0.1.0"
