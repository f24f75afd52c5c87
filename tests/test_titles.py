"""Title normalisation, identity keys and tune types."""

from __future__ import annotations

import pytest

from folkclip.abc.titles import TUNE_TYPES, canonical_type, is_untitled, normalise_title, title_key


@pytest.mark.parametrize("raw,title,suffix", [
    ("Humours Of Ballyloughlin, The", "The Humours Of Ballyloughlin", None),
    ("Acacia -- Reel", "Acacia", "reel"),
    (" YPSILANTI -- HORNPIPE", "Ypsilanti", "hornpipe"),
    ("BAG OF MEAL, THE", "The Bag of Meal", None),
    ("The Ranting Highlandman.", "The Ranting Highlandman", None),
    ('"All Aboard" -- Reel', "All Aboard", "reel"),
    ("Kesh -- Walkaround", "Kesh", "other"),
    ("Road -- Dublin", "Road -- Dublin", None),
    ("Caf\\'e de Paris", "Café de Paris", None),
])
def test_normalise_title(raw, title, suffix):
    assert normalise_title(raw) == (title, suffix)


def test_title_key_folds_case_punctuation_articles_and_accents():
    keys = {title_key(t) for t in ["The Humours of Ballyloughlin", "Humours Of Ballyloughlin, The",
                                   "humours of ballyloughlin!", "THE HUMOURS OF BALLYLOUGHLIN."]}
    assert keys == {"humours of ballyloughlin"}
    assert title_key("Café") == title_key("Cafe") == "cafe"
    assert title_key("O'Neill's") == "oneills"
    assert title_key("Marche, La") == "marche"
    assert title_key("The Banks") != title_key("The Bank")


@pytest.mark.parametrize("raw,canon", [
    ("reel", "reel"), ("REEL", "reel"), (" jig", "jig"), ("double jig", "jig"),
    ("slipjig", "slip jig"), ("Slip Jig", "slip jig"), ("highland fling", "strathspey"),
    ("clog", "hornpipe"), ("Set Dance", "other"), ("three-two", "three-two"),
    ("barn dance", "barndance"), ("", "unknown"), (None, "unknown"), ("polka", "polka"),
    ("slow air", "air"), ("zwiefacher", "other"),
])
def test_canonical_type(raw, canon):
    assert canonical_type(raw) == canon
    assert canon in TUNE_TYPES or canon == "unknown"


def test_untitled_placeholders():
    assert is_untitled("x") and is_untitled("") and is_untitled("Untitled")
    assert not is_untitled("The X Reel")
