"""Inputs for the fuzz campaign (benchmarks/fuzz.py): grammar-aware ABC, and character
and byte mutations of real tunes, JSON-lines records and Session rows.

Every generator takes a :class:`random.Random`, so an input is reproduced from the
campaign's seed and its index alone.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALPHABET = "ABCDEFGabcdefgzxZX|:[]()^_=,'/0123456789<>-~.!+\"{}%\\ \nKMLTXPVRHuv&$*yJ\t\r"
# Pieces that once broke a reader, or sit at a limit's edge.
HOSTILE = ["/0", "0", "9" * 12, "9" * 5000, ",,,,,,,,", "''''''''''''", "Z999999999", "Z1001",
           "(9:99:99", "(3::", "[K:", "[M:4/99999]", "[L:1/0]", "P:" + "(" * 50, "\\", "%",
           "X:", "\n\n", "|:", ":|", "::", "[1", "[2", "|1", "&", "\nV:2\n", "\r", "\t", "\x00",
           "é", "♯", "\ufeff", ">>>", "<<<", "-", "~", "!trill!", '"Am"', "{g}", "[CEG]",
           "M:", "L:", "K:", "P:A", "P:(AB)99999", "\nK:none\n", "\nM:none\n", "z/",
           "/" * 20, "A" * 50, "[" * 30, "{" * 30, '"' * 3, "!" * 3, "+", "(" * 30]
METERS = ["4/4", "6/8", "3/4", "C", "C|", "2/4", "9/8", "none", "12/8", "5/4", "3/2", "2+3/8",
          "7/8", "4/99999", "0/4", "4/0", "", "13/16", "(2+3)/8"]
UNITS = ["1/8", "1/4", "1/16", "1/2", "1", "1/32", "1/3", "0", "1/0", "1/512", "3/8", ""]
KEYS = ["G", "D", "Ador", "Edor", "Bm", "F", "Bb", "Amix", "C", "HP", "Hp", "none", "F#m",
        "Eb", "D exp ^c", "^f ^c", "Glyd", "Bloc", "Cphr", "Xyz", "G clef=bass", ""]
TYPES = ["reel", "jig", "hornpipe", "polka", "slip jig", "waltz", "", "march"]
DECOS = ["~", ".", "u", "v", "T", "H", "M", "!trill!", "!roll!", "+fermata+", "!!", "J"]


def load_seeds() -> dict[str, list]:
    """Real inputs from every built-in collection and the test fixtures.

    Returns:
        ``abc``: tune records (text) of ``default`` and ``nottingham`` (what is found);
        ``jsonl``: JSON-lines records; ``rows``: Session rows (dicts of strings).
    """
    from folkclip.errors import FolkclipError
    from folkclip.io.sources import read_text, source_files

    abc: list[str] = []
    for source in ("default", "nottingham"):
        try:
            files = source_files(source)
        except FolkclipError as err:
            print(f"fuzz: no seeds from {source}: {err}")
            continue
        for path in files:
            abc.extend(_records(read_text(path)))
    jsonl = [ln for ln in (ROOT / "tests/fixtures/tunes.jsonl").read_text().splitlines() if ln]
    with open(ROOT / "tests/fixtures/session/tunes.csv", newline="", encoding="utf-8") as fh:
        rows = [dict(r) for r in csv.DictReader(fh)]
    rows += [{k: "" if v is None else str(v) for k, v in r.items()}
             for r in json.loads((ROOT / "tests/fixtures/session/tunes.json").read_text())]
    return {"abc": abc, "jsonl": jsonl, "rows": rows}


def _records(text: str) -> list[str]:
    out, current = [], []
    for line in text.splitlines():
        if line.startswith("X:"):
            if current:
                out.append("\n".join(current))
            current = [line]
        elif current:
            current.append(line)
    if current:
        out.append("\n".join(current))
    return out


# ------------------------------------------------------------------ grammar
def _length(r: random.Random) -> str:
    k = r.random()
    if k < 0.6:
        return ""
    if k < 0.9:
        return r.choice(["2", "3", "4", "/", "//", "3/2", "/2", "/4", "6", "8", "3/", "1/3"])
    if k < 0.98:
        return r.choice([str(r.randint(0, 999)), "/" + str(r.randint(0, 99)),
                         f"{r.randint(0, 99)}/{r.randint(0, 99)}", "/" * r.randint(1, 12)])
    return r.choice(HOSTILE[:4])


def _note(r: random.Random) -> str:
    acc = r.choice(["", "", "", "", "^", "_", "=", "^^", "__"])
    octs = "" if r.random() < 0.8 else r.choice(",'") * r.choice([1, 1, 2, 3, 5, 8, 12])
    return acc + r.choice("CDEFGABcdefgab") + octs + _length(r)


def _item(r: random.Random) -> str:
    k = r.random()
    if k < 0.40:
        return _note(r)
    if k < 0.48:
        return r.choice(["|", "|", "||", "|]", "[|", "|:", ":|", "::", ":|:", ":||:", "|1",
                         ":|2", "|[1", "[2", "[1,3", "[1-2", ".|"])
    if k < 0.53:
        return r.choice("zx") + _length(r)
    if k < 0.57:
        return "[" + "".join(_note(r) for _ in range(r.randint(0, 4))) + "]" + _length(r)
    if k < 0.60:
        return "(" + str(r.randint(0, 9)) + r.choice(["", ":", ":2", ":2:3", "::4",
                                                       f":{r.randint(0, 99)}:{r.randint(0, 99)}"])
    if k < 0.63:
        return r.choice([">", "<", ">>", "<<", ">>>"])
    if k < 0.66:
        return r.choice(["-", "(", ")", " ", "  ", "\t"])
    if k < 0.70:
        return r.choice(DECOS)
    if k < 0.73:
        return '"' + r.choice(["Am", "G", "D7", "Em", "^text", "Bb", "F#m", "", "C/E"]) + '"'
    if k < 0.75:
        return "{" + "".join(_note(r) for _ in range(r.randint(0, 3))) + "}"
    if k < 0.78:
        return "[" + r.choice(["K:" + r.choice(KEYS), "M:" + r.choice(METERS),
                               "L:" + r.choice(UNITS), "P:" + r.choice("ABC"), "V:2"]) + "]"
    if k < 0.79:
        return r.choice(["Z", "X"]) + r.choice(["", "2", "4", str(r.randint(0, 2000))])
    if k < 0.90:
        return " "
    if k < 0.95:
        return r.choice(HOSTILE)
    return r.choice(ALPHABET)


def grammar_tune(r: random.Random) -> str:
    """A tune built from ABC's grammar, with hostile pieces mixed in."""
    head = [f"X:{r.randint(0, 999)}", "T:" + r.choice(["Fuzz", "The Fuzz Reel", "", "x"])]
    if r.random() < 0.5:
        head.append("R:" + r.choice(TYPES))
    if r.random() < 0.9:
        head.append("M:" + r.choice(METERS))
    if r.random() < 0.8:
        head.append("L:" + r.choice(UNITS))
    if r.random() < 0.1:
        head.append("P:" + r.choice(["AABB", "A2B", "(AB)2C", "ABA", "A", "((A)2B)3", "B"]))
    if r.random() < 0.05:
        head.append("V:1")
    head.append("K:" + r.choice(KEYS))
    lines = []
    for _ in range(r.randint(1, 8)):
        if r.random() < 0.08:
            lines.append(r.choice(["K:", "M:", "L:", "P:", "V:", "T:", "%"]) + r.choice(
                KEYS + METERS + ["A", "B", "2", "1"]))
        line = "".join(_item(r) for _ in range(r.randint(0, 40)))
        lines.append(line + ("\\" if r.random() < 0.05 else ""))
    return "\n".join(head + lines) + "\n"


# ---------------------------------------------------------------- mutations
def mutate_text(r: random.Random, text: str, edits: int | None = None) -> str:
    """Delete, insert, duplicate, replace or move pieces of ``text``."""
    for _ in range(edits or r.randint(1, 8)):
        n = len(text)
        pos = r.randint(0, n)
        op = r.random()
        if op < 0.25 and n:
            text = text[:pos] + text[pos + r.randint(1, 8):]
        elif op < 0.5:
            text = text[:pos] + r.choice(ALPHABET) + text[pos:]
        elif op < 0.65:
            text = text[:pos] + r.choice(HOSTILE) + text[pos:]
        elif op < 0.8:
            text = text[:pos] + text[pos:pos + r.randint(1, 20)] * r.randint(2, 4) + text[pos:]
        elif op < 0.9 and n:
            text = text[:pos] + r.choice(ALPHABET) + text[pos + 1:]
        else:
            lines = text.split("\n")
            i, j = r.randrange(len(lines)), r.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


def mutate_bytes(r: random.Random, text: str) -> str:
    """Flip, insert or drop bytes of the UTF-8 text, then decode it as a reader would."""
    data = bytearray(text.encode("utf-8"))
    for _ in range(r.randint(1, 6)):
        pos = r.randrange(len(data) + 1)
        op = r.random()
        if op < 0.4 and pos < len(data):
            data[pos] ^= 1 << r.randrange(8)
        elif op < 0.7:
            data[pos:pos] = bytes([r.randrange(256)])
        elif pos < len(data):
            del data[pos]
    return bytes(data).decode(r.choice(["utf-8", "latin-1"]), errors="replace")


def abc_input(r: random.Random, seeds: dict[str, list]) -> tuple[str, str]:
    """(kind, tunebook text) for the ABC reader."""
    k = r.random()
    if k < 0.4:
        return "grammar", grammar_tune(r)
    real = r.choice(seeds["abc"]) if seeds["abc"] else grammar_tune(r)
    if k < 0.8:
        return "mutated", mutate_text(r, real)
    if k < 0.92:
        return "bytes", mutate_bytes(r, real)
    other = r.choice(seeds["abc"]) if seeds["abc"] else grammar_tune(r)
    cut_a, cut_b = r.randint(0, len(real)), r.randint(0, len(other))
    return "spliced", real[:cut_a] + other[cut_b:] + "\n\n" + real


def _odd_value(r: random.Random) -> object:
    return r.choice([None, 0, -1, 10**30, 1e308, float("inf"), [], {}, [["x"]], "", "x" * 50,
                     True, "9" * 40, {"a": [1, 2]}])


def jsonl_input(r: random.Random, seeds: dict[str, list]) -> str:
    """One JSON-lines record: a fixture or a real tune, mutated as text or field by field."""
    if seeds["abc"] and r.random() < 0.5:
        record: dict[str, object] = {"abc": r.choice(seeds["abc"]), "id": r.randint(0, 99)}
    else:
        line = r.choice(seeds["jsonl"])
        try:
            record = json.loads(line)
        except ValueError:  # the fixture holds malformed lines on purpose
            return mutate_text(r, line, r.randint(0, 3))
        if not isinstance(record, dict):
            return mutate_text(r, line, r.randint(0, 3))
    k = r.random()
    if k < 0.3:
        return mutate_text(r, json.dumps(record), r.randint(1, 4))
    if k < 0.6:
        record["abc"] = mutate_text(r, str(record.get("abc", "")))
    elif k < 0.8:
        field = r.choice(["abc", "title", "titles", "type", "meter", "key", "mode", "id",
                          "tune_id", "setting_id"])
        record[field] = _odd_value(r)
    else:
        record["abc"] = grammar_tune(r).split("K:", 1)[-1].split("\n", 1)[-1]
        record["mode"] = r.choice(["Gmajor", "Edorian", "Ador", "Xq", ""])
    if r.random() < 0.02:
        record = {"abc": "[" * r.randint(10, 3000) + "]" * 10}
    return json.dumps(record, ensure_ascii=r.random() < 0.5)


def session_row(r: random.Random, seeds: dict[str, list]) -> dict[str, object]:
    """A Session row (CSV or JSON style) with mutated fields."""
    row: dict[str, object] = dict(r.choice(seeds["rows"]))
    for _ in range(r.randint(1, 3)):
        field = r.choice(["abc", "abc", "abc", "meter", "mode", "type", "name", "tune_id",
                          "setting_id"])
        value = row.get(field, "")
        k = r.random()
        if k < 0.6:
            row[field] = mutate_text(r, str(value))
        elif k < 0.8 and field == "abc":
            row[field] = grammar_tune(r).split("K:", 1)[-1].split("\n", 1)[-1]
        else:
            row[field] = _odd_value(r)
    if r.random() < 0.03:
        row.pop(r.choice(list(row)), None)
    return row


def file_input(r: random.Random, seeds: dict[str, list]) -> tuple[str, str, str]:
    """A whole file: ``(suffix, text, encoding)``: a tunebook of 1-5 ABC inputs, 1-5
    JSON-lines records, or a mutated Session ``tunes.csv``/``tunes.json`` fixture, to be
    written in one of three encodings."""
    suffix = r.choice([".abc", ".jsonl", ".csv", ".json"])
    if suffix == ".abc":
        text = "\n\n".join(abc_input(r, seeds)[1] for _ in range(r.randint(1, 5)))
    elif suffix == ".jsonl":
        text = "\n".join(jsonl_input(r, seeds) for _ in range(r.randint(1, 5)))
    else:
        fixture = Path(__file__).resolve().parents[1] / "tests/fixtures/session" / f"tunes{suffix}"
        text = mutate_text(r, fixture.read_text(encoding="utf-8"), r.randint(1, 6))
    return suffix, text, r.choice(["utf-8", "utf-16", "latin-1"])
