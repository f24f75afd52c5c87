"""The ``folkclip`` command line: ``folkclip data inspect|check-leakage|tokens``,
``folkclip train``, ``evaluate``, ``map``, ``generate``, ``ablate``, ``sweep``,
``compare``, ``bits``, ``report``, ``index``, ``search``, ``suggest``, ``name``, ``similar``,
``identify`` and ``serve``.

Every command is reachable as ``main([...])``; errors in the input become a one-line
message on stderr and exit status 2, never a traceback. Anything else that escapes a
command is a bug: ``folkclip: internal error: <type>: <message>`` and where to report it,
exit status 1 (``folkclip --debug ...`` also prints the traceback).
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from folkclip.errors import FolkclipError
from folkclip_cli import data, generate, identify, name
from folkclip_cli.index import command as index
from folkclip_cli.serve import cli as serve
from folkclip_cli.study import bits, command as study, compare, evaluate, maps, report, sweep
from folkclip_cli.train import command

DESCRIPTION = ("folkclip: joint embeddings of folk-tune titles and melodies in ABC notation "
               "(train models, index collections, search, suggest titles, serve)")
REPORT_BUGS = "the folkclip issue tracker (the project's repository, 'Issues')"
MAX_MESSAGE = 300  # characters of an internal error's message shown (input can be huge)


# One table of commands: (name, help, module, function adding its arguments, function
# running it). Each module imports its heavy dependencies (torch, Lightning) only when run.
PROGRAMS = (
    ("train", "train a two-tower model or a melody LM (needs the 'train' extra)", command,
     "add_arguments", "train_from_args"),
    ("evaluate", "retrieval metrics of a trained run", evaluate, "add_arguments",
     "main_from_args"),
    ("map", "2-D maps of tune and title embeddings by tune type", maps, "add_arguments",
     "main_from_args"),
    ("generate", "sample ABC tunes from a melody language model run", generate,
     "add_arguments", "main_from_args"),
    ("ablate", "retrain with chosen information removed, over seeds", sweep,
     "add_ablate_arguments", "ablate_from_args"),
    ("sweep", "train config variants over seeds and compare them", sweep,
     "add_sweep_arguments", "sweep_from_args"),
    ("study", "the whole study: encoders, removals, transfer, probes, title words, other "
     "traditions; one resumable command and report", study, "add_arguments", "main_from_args"),
    ("bits", "how many bits a melody tells about its title: title models per condition, "
     "cross-validated; one resumable command and table", bits, "add_arguments",
     "main_from_args"),
    ("compare", "put finished runs side by side (mean ± 95%% CI)", compare, "add_arguments",
     "main_from_args"),
    ("report", "one self-contained HTML report of a run or ablation", report, "add_arguments",
     "main_from_args"),
    ("index", "embed a collection into a searchable tune index", index,
     "add_index_arguments", "index_from_args"),
    ("search", "tunes of an index that fit a title or text", index, "add_search_arguments",
     "search_from_args"),
    ("suggest", "titles for a tune (ABC file) from an index", index, "add_suggest_arguments",
     "suggest_from_args"),
    ("name", "names for a tune, written by a title model (novel or existing, ranked by a "
     "two-tower model when given)", name, "add_arguments", "main_from_args"),
    ("similar", "tunes of an index closest to a tune", index, "add_similar_arguments",
     "similar_from_args"),
    ("identify", "name the tune a few bars (ABC), a MIDI file or a recording come from",
     identify, "add_arguments", "main_from_args"),
    ("serve", "browse a tune index in a local web page (needs the 'serve' extra)", serve,
     "add_arguments", "main_from_args"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="folkclip", description=DESCRIPTION)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an internal error (to report a bug)")
    sub = parser.add_subparsers(dest="command", required=True)
    data.add_commands(sub)
    for name, help_text, module, add, run in PROGRAMS:
        _add_program(sub.add_parser(name, help=help_text), module, add, run)
    return parser


def _add_program(p: argparse.ArgumentParser, module: ModuleType, add: str, run: str) -> None:
    getattr(module, add)(p)
    p.set_defaults(func=getattr(module, run))


def main(argv: list[str] | None = None) -> int:
    """Run the ``folkclip`` command line.

    Args:
        argv: Arguments without the program name (``sys.argv[1:]`` when ``None``).

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except FolkclipError as err:
        print(f"folkclip: error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:  # an extra that is not installed
        print(f"folkclip: error: this command needs {err.name!r}: pip install "
              f"'folkclip[train]' (or the extra that provides it)", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("folkclip: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001  the last line of defence: a bug, not bad input
        return _internal_error(err, args.debug)


def _internal_error(err: BaseException, debug: bool) -> int:
    """Report an exception that escaped every command's own handling; exit status 1."""
    import traceback

    if debug:
        traceback.print_exception(err, file=sys.stderr)
    message = " ".join(str(err).split())
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + "..."
    print(f"folkclip: internal error: {type(err).__name__}: {message}", file=sys.stderr)
    print(f"folkclip: this is a bug in folkclip; please report it to {REPORT_BUGS} with the "
          "command, its input and the output of the same command run with --debug"
          + ("" if debug else " (folkclip --debug ...)"), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
