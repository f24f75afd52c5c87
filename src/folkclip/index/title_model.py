"""A title model carried by an index folder: names written for tunes no title fits.

``folkclip index RUN ... --title-model TITLE_RUN`` copies the title model's two files
(:data:`~folkclip.models.title_lm.FILE`, :data:`~folkclip.models.title_lm.WEIGHTS`) into
``INDEX/title_lm/`` and records them in the manifest under ``title_model``: the run they came
from and the SHA-256 of each file. Loading checks the hashes, so a folder whose files were
swapped or damaged is refused with a message instead of writing names with another model.
An index without the key has no title model (an older index, or one built without it):
:func:`load_index_title_model` gives ``None`` and the callers show no generated names.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from folkclip.errors import FolkclipError
from folkclip.index import store

FOLDER = "title_lm"  # inside the index folder


def _file_hashes(folder: Path) -> dict[str, str]:
    from folkclip.models.title_lm import FILE, WEIGHTS

    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()[:16]
            for name in (FILE, WEIGHTS)}


def attach_title_model(index_dir: str | Path, title_run: str | Path) -> dict:
    """Copy a trained title model into a complete index folder and record it.

    Args:
        index_dir: The index folder (``folkclip index``'s ``--out``).
        title_run: A run of ``task: title_lm`` (or its ``model/`` folder).

    Returns:
        The manifest's new ``title_model`` entry: ``{"run", "files": {name: sha256}}``.

    Raises:
        FolkclipError: For a folder that is no complete index, or a run that holds no
            loadable title model (it is loaded once before anything is copied).
    """
    from folkclip.models.title_lm import load_title_lm, title_lm_dir

    folder = Path(index_dir)
    manifest = store.read_manifest(folder)
    if manifest is None or manifest.get("state") != "complete":
        raise FolkclipError(f"{folder} is no complete folkclip index; build it first")
    source = title_lm_dir(title_run)
    load_title_lm(title_run)  # refuses a missing or damaged model before anything is copied
    assert source is not None  # load_title_lm raised otherwise
    target = folder / FOLDER
    tmp = folder / (FOLDER + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    hashes = {}
    for name, digest in _file_hashes(source).items():
        shutil.copyfile(source / name, tmp / name)
        hashes[name] = digest
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    entry = {"run": str(Path(title_run).resolve()), "files": hashes}
    store.write_manifest(folder, dict(manifest, title_model=entry))
    return entry


def load_index_title_model(index_dir: str | Path, manifest: dict | None = None) -> object | None:
    """The index's title model (a :class:`~folkclip.models.title_lm.LoadedTitleLM`), or
    ``None`` when the index carries none.

    Args:
        index_dir: The index folder.
        manifest: Its manifest, when already read.

    Raises:
        FolkclipError: When the manifest records a title model whose files are missing,
            changed or cannot be loaded.
    """
    from folkclip.models.title_lm import load_title_lm

    folder = Path(index_dir)
    manifest = store.read_manifest(folder) if manifest is None else manifest
    entry = (manifest or {}).get("title_model")
    if not entry:
        return None
    where = folder / FOLDER
    try:
        found = _file_hashes(where)
    except OSError as err:
        raise FolkclipError(f"the index's title model in {where} cannot be read "
                            f"({err.strerror or err}); add it again with `folkclip index ... "
                            "--title-model RUN`") from None
    if found != entry.get("files"):
        raise FolkclipError(f"the title model in {where} is not the one the manifest records "
                            f"(files {found}, recorded {entry.get('files')}); add it again "
                            "with `folkclip index ... --title-model RUN`")
    return load_title_lm(where)
