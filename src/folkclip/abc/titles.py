"""Title normalisation, title identity keys and the canonical tune-type vocabulary."""

from __future__ import annotations

import re
import unicodedata

TUNE_TYPES = (
    "reel", "jig", "slip jig", "hornpipe", "polka", "slide", "waltz", "strathspey",
    "march", "barndance", "mazurka", "three-two", "air", "song", "other",
)
UNKNOWN_TYPE = "unknown"  # no type information at all

# Lower-cased spellings met in real collections -> canonical type.
_TYPE_SYNONYMS = {
    "reel": "reel", "reels": "reel", "single reel": "reel", "double reel": "reel",
    "jig": "jig", "jigs": "jig", "double jig": "jig", "single jig": "jig", "jig time": "jig",
    "slip jig": "slip jig", "slipjig": "slip jig", "slip-jig": "slip jig", "hop jig": "slip jig",
    "slip jigs": "slip jig",
    "hornpipe": "hornpipe", "hornpipes": "hornpipe", "clog": "hornpipe",
    "lancashire clog": "hornpipe",
    "polka": "polka", "polkas": "polka",
    "slide": "slide", "slides": "slide",
    "waltz": "waltz", "waltzes": "waltz", "valse": "waltz",
    "strathspey": "strathspey", "strathspeys": "strathspey", "highland fling": "strathspey",
    "fling": "strathspey", "highland": "strathspey",
    "march": "march", "marches": "march", "quickstep": "march", "quick step": "march",
    "slow march": "march",
    "barndance": "barndance", "barn dance": "barndance", "schottische": "barndance",
    "germans": "barndance", "fling (barndance)": "barndance",
    "mazurka": "mazurka", "mazurkas": "mazurka",
    "three-two": "three-two", "three two": "three-two", "3/2 hornpipe": "three-two",
    "three-two hornpipe": "three-two", "3-2": "three-two",
    "air": "air", "airs": "air", "slow air": "air", "lament": "air", "planxty": "air",
    "song": "song", "song air": "song", "ballad": "song", "carol": "song",
    # Known types outside the vocabulary.
    "walkaround": "other", "set dance": "other", "minuet": "other", "country dance": "other",
    "morris": "other", "hop": "other", "fancy": "other", "long dance": "other",
}
# Type words that may close a title as a suffix: "Acacia -- Reel", "Tullochgorum Reel".
_SUFFIX_RE = re.compile(r"\s*--\s*([A-Za-z][A-Za-z .'-]*?)\s*\.?\s*$")
_ARTICLE_RE = re.compile(r"^(.*?),\s*(the|a|an|na|an t-|le|la|les|der|die|das)\s*$", re.I)
_LEADING_ARTICLE_RE = re.compile(r"^(the|a|an|na|le|la|les|der|die|das) ", re.I)
# ABC text escapes for accented letters: \'e -> é, \"o -> ö, \~n -> ñ, \cc -> ç ...
_ESCAPE_RE = re.compile(r"\\([`'^\"~=]|c|u|v|o|a(?=a))([A-Za-z])")
_ESCAPE_MARKS = {"`": "\u0300", "'": "\u0301", "^": "\u0302", "~": "\u0303", "=": "\u0304",
                 '"': "\u0308", "c": "\u0327", "u": "\u0306", "v": "\u030c", "o": "\u030a",
                 "a": "\u030a"}
_ESCAPE_LETTERS = {"ss": "ß", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "o/": "ø", "O/": "Ø"}
_KEY_STRIP_RE = re.compile(r"[^\w\s]")
_SPACE_RE = re.compile(r"\s+")


def canonical_type(raw: str | None) -> str:
    """Map a written tune type (``R:`` value, file-name word, title suffix) to the vocabulary.

    Returns:
        One of :data:`TUNE_TYPES`, ``"other"`` for a type outside it, or
        :data:`UNKNOWN_TYPE` when ``raw`` is empty.
    """
    if not raw:
        return UNKNOWN_TYPE
    text = _SPACE_RE.sub(" ", raw.strip().strip(".").lower())
    if not text:
        return UNKNOWN_TYPE
    if text in _TYPE_SYNONYMS:
        return _TYPE_SYNONYMS[text]
    for word in (text.split("/")[0].strip(), text.split(",")[0].strip(), text.split(" ")[-1]):
        if word in _TYPE_SYNONYMS:
            return _TYPE_SYNONYMS[word]
    return "other"


def split_type_suffix(title: str) -> tuple[str, str | None]:
    """Split a type suffix off a title: ``"Acacia -- Reel"`` -> ``("Acacia", "reel")``.

    Only a ``--``-separated suffix is removed, and only when it names a known type
    (including known types outside the vocabulary, such as "Walkaround", which give
    ``other``); the title is returned unchanged otherwise.
    """
    m = _SUFFIX_RE.search(title)
    if not m:
        return title, None
    word = _SPACE_RE.sub(" ", m.group(1).strip().lower())
    if word not in _TYPE_SYNONYMS and word.split(" ")[-1] not in _TYPE_SYNONYMS:
        return title, None
    return title[: m.start()].rstrip(" -,"), canonical_type(word)


def unescape(text: str) -> str:
    """Decode ABC's backslash escapes for accented letters (``Caf\\'e`` -> ``Café``)."""
    if "\\" not in text:
        return text
    for esc, letter in _ESCAPE_LETTERS.items():
        text = text.replace("\\" + esc, letter)
    text = _ESCAPE_RE.sub(lambda m: unicodedata.normalize(
        "NFC", m.group(2) + _ESCAPE_MARKS[m.group(1)]), text)
    return text


def _smart_case(text: str) -> str:
    if text.upper() != text or not any(c.isalpha() for c in text):
        return text
    words = text.lower().split(" ")
    small = {"of", "the", "and", "in", "on", "to", "a", "an", "at", "for", "o'", "de", "na"}
    out = [w if (i and w in small) else w[:1].upper() + w[1:] for i, w in enumerate(words)]
    # Capitalise after Mac/O' apostrophes (O'NEILL -> O'Neill).
    return re.sub(r"(?<=\bO')([a-z])", lambda m: m.group(1).upper(), " ".join(out))


def normalise_title(raw: str) -> tuple[str, str | None]:
    """Normalise a written title.

    Moves a trailing article to the front (``Humours Of Ballyloughlin, The`` ->
    ``The Humours Of Ballyloughlin``), strips quotes, a closing full stop and a
    ``-- Type`` suffix, and re-cases ALL-CAPS titles.

    Returns:
        ``(title, type_from_suffix)``; the type is ``None`` when the title had no suffix.
    """
    text = _SPACE_RE.sub(" ", unescape(raw).replace("\\", " ")).strip()
    text, suffix_type = split_type_suffix(text)
    text = text.strip().strip('"').strip()
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    m = _ARTICLE_RE.match(text)
    if m:
        text = f"{m.group(2)} {m.group(1)}"
    text = _smart_case(text)
    if text[:1].islower():
        text = text[0].upper() + text[1:]
    return text, suffix_type


def title_key(title: str) -> str:
    """Case-, accent-, punctuation- and article-folded identity of a title.

    ``"The Humours of Ballyloughlin"``, ``"Humours Of Ballyloughlin, The"`` and
    ``"humours of ballyloughlin!"`` all give ``"humours of ballyloughlin"``.
    """
    text, _ = normalise_title(title)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("'", "").replace("’", "")
    text = _SPACE_RE.sub(" ", _KEY_STRIP_RE.sub(" ", text)).strip()
    return _LEADING_ARTICLE_RE.sub("", text)


def is_untitled(title: str) -> bool:
    """True for empty titles and placeholders (``x``, ``untitled``, ``no name``)."""
    return title_key(title) in ("", "x", "untitled", "no name", "noname", "unknown", "unnamed")


def title_case(text: str) -> str:
    """A folded (lower-case) title written as titles are: ``"the humours of ennistymon"``
    -> ``"The Humours of Ennistymon"`` (the casing :func:`normalise_title` gives
    ALL-CAPS titles; ``O'`` names capitalised after the apostrophe)."""
    return _smart_case(text.upper())
