"""The one checkpoint format: atomic, checksummed, and loaded without unpickling anything.

A run directory holds::

    checkpoints/
      step-00001200/            one checkpoint, written whole or not at all
        model.safetensors       weights (tied weights stored once)
        trainer.safetensors     optimizer tensors and RNG states
        trainer.json            step, epoch, data position, best metric, optimizer hyper-parameters
        manifest.json           format version and the sha256 + size of each file above
      latest                    text file naming the newest complete checkpoint
      best                      text file naming the checkpoint with the best validation metric

Atomicity: a checkpoint is written into a hidden temporary directory, fsynced, then renamed into place, and
only then do the `latest`/`best` pointers move (each pointer is itself replaced atomically). A crash at any
moment leaves the previous pointer naming a complete, verified checkpoint.

Safety: safetensors and JSON only. A file that fails its checksum, or is not what the manifest says, is
refused with a one-line `UserError` naming the file — no `torch.load`, no pickle, ever.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from safetensors.torch import save_model as st_save_model

from attnlab.errors import UserError
from attnlab.fileio import atomic_write_json, atomic_write_text, fsync_dir, sha256_bytes

FORMAT = "attnlab-checkpoint/1"
FILES = ("model.safetensors", "trainer.safetensors", "trainer.json")


# ------------------------------------------------------------------------------------- optimizer state


def optimizer_state_to_flat(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Split `optimizer.state_dict()` into tensors (for safetensors) and plain JSON values."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, pstate in state["state"].items():
        for key, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    groups = [
        {k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in state["param_groups"]
    ]
    return tensors, {"param_groups": groups, "scalars": scalars}


def optimizer_state_from_flat(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    for pid, values in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(values)
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if "betas" in g:  # torch's Adam keeps betas as a tuple
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


def rng_state() -> dict[str, torch.Tensor]:
    out = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"rng.cuda.{i}"] = s
    return out


def set_rng_state(tensors: dict[str, torch.Tensor]) -> None:
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])


# ---------------------------------------------------------------------------------------- save / load


@dataclass
class Checkpoint:
    """A verified checkpoint: `model` and `tensors` are state dicts, `meta` the trainer.json contents."""

    path: Path
    model: dict[str, torch.Tensor]
    tensors: dict[str, torch.Tensor]
    meta: dict


def _name(step: int) -> str:
    return f"step-{step:08d}"


def save_checkpoint(
    root: Path,
    step: int,
    model: torch.nn.Module,
    *,
    tensors: dict[str, torch.Tensor],
    meta: dict,
    best: bool = False,
    keep: int = 2,
) -> Path:
    """Write checkpoint `step` under `root` (the run's checkpoints/ directory) and move the pointers."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".tmp-*"):  # leftovers of a write that was killed midway
        shutil.rmtree(stale, ignore_errors=True)
    final = root / _name(step)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    try:
        st_save_model(model, str(tmp / "model.safetensors"))
        blobs = {
            "trainer.safetensors": st_save({k: v.contiguous() for k, v in tensors.items()}),
            "trainer.json": (json.dumps(meta, indent=2) + "\n").encode("utf-8"),
        }
        for name, data in blobs.items():
            (tmp / name).write_bytes(data)
        manifest = {"format": FORMAT, "step": step, "files": {}}
        for name in FILES:
            data = (tmp / name).read_bytes()
            manifest["files"][name] = {"sha256": sha256_bytes(data), "size": len(data)}
            with open(tmp / name, "rb+") as fh:
                os.fsync(fh.fileno())
        atomic_write_json(tmp / "manifest.json", manifest)
        old = None
        if final.exists():  # re-saving a step (e.g. after --resume-from an older checkpoint)
            # Move the old one aside under a name the next save cleans up (never rmtree under a pointer's
            # feet: a crash between rmtree and the rename below would leave `latest` naming nothing).
            old = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-old-"))
            os.replace(final, old / final.name)
        os.replace(tmp, final)
        fsync_dir(root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_text(root / "latest", final.name + "\n")
    if best:
        atomic_write_text(root / "best", final.name + "\n")
    _prune(root, keep)
    return final


def _pointer(root: Path, which: str) -> str | None:
    p = root / which
    if not p.is_file():
        return None
    try:
        name = p.read_bytes().decode("utf-8").strip()
    except UnicodeDecodeError:
        name = "/"  # fails the check below
    if name and not re.fullmatch(r"[\w.-]+", name):  # one directory name: nothing outside checkpoints/
        raise UserError(
            f"checkpoint pointer {p} is corrupt (it should name a step-* directory); "
            f"delete it to fall back to the latest checkpoint"
        )
    return name


def _prune(root: Path, keep: int) -> None:
    protected = {_pointer(root, "best"), _pointer(root, "latest")}
    steps = sorted(p for p in root.glob("step-*") if p.is_dir())
    for old in steps[:-keep]:
        if old.name not in protected:
            shutil.rmtree(old, ignore_errors=True)


def list_checkpoints(root: Path) -> list[Path]:
    return sorted((p for p in Path(root).glob("step-*") if p.is_dir()), reverse=True)


def _read_verified(
    ckpt: Path, name: str, manifest: dict, advice: str | None = None, what: str = "checkpoint"
) -> bytes:
    """The bytes of `ckpt/name` once its size and sha256 match the manifest; else a one-line UserError that
    names the file and ends with `advice` (default: which older checkpoint to resume from)."""
    advice = _older(ckpt) if advice is None else advice
    path = ckpt / name
    files = manifest.get("files")
    entry = files.get(name) if isinstance(files, dict) else None
    if entry is None:
        raise UserError(f"{what} {ckpt} has no {name} in its manifest; it was not written by attnlab")
    if not (
        isinstance(entry, dict)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("sha256"), str)
    ):
        raise UserError(f"{what} manifest in {ckpt} is corrupt (bad entry for {name}); {advice}")
    if not path.is_file():
        raise UserError(f"{what} file {path} is missing; {advice}")
    data = path.read_bytes()
    if len(data) != entry["size"]:
        raise UserError(f"{what} file {path} is truncated ({len(data)} of {entry['size']} bytes); {advice}")
    if sha256_bytes(data) != entry["sha256"]:
        raise UserError(f"{what} file {path} is corrupt (sha256 mismatch); {advice}")
    return data


# ---------------------------------------------------------------------------- fitted (count-based) models

# Models that are fitted in one pass (n-grams, bag-of-words, word2vec) have no checkpoints/ directory; their
# files get the same sha256 + size manifest, written once the fit is complete.
FITTED_MANIFEST = "model.manifest.json"
_REFIT = "fit the model again (attnlab train RECIPE --out NEW_DIR)"


def seal_fitted(run_dir: Path, *paths: Path) -> Path:
    """Write RUN/model.manifest.json for `paths` (files, or every file under a directory)."""
    files = [
        f for p in paths for f in ([p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file()))
    ]
    manifest: dict[str, Any] = {"format": FORMAT, "files": {}}
    for f in files:
        data = f.read_bytes()
        manifest["files"][f.relative_to(run_dir).as_posix()] = {
            "sha256": sha256_bytes(data),
            "size": len(data),
        }
    atomic_write_json(run_dir / FITTED_MANIFEST, manifest)
    return run_dir / FITTED_MANIFEST


def verify_fitted(run_dir: Path) -> None:
    """Check every file of a fitted model against RUN/model.manifest.json (one-line UserError if not)."""
    path = run_dir / FITTED_MANIFEST
    if not path.is_file():
        raise UserError(
            f"{run_dir} has no {FITTED_MANIFEST} (the fit did not finish, or the run predates model "
            f"manifests); {_REFIT}"
        )
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        manifest = None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not files or manifest.get("format") != FORMAT:
        raise UserError(f"model manifest {path} is corrupt; {_REFIT}")
    for name in files:
        if not isinstance(name, str) or name.startswith("/") or ".." in Path(name).parts:
            raise UserError(f"model manifest {path} is corrupt (file {name!r}); {_REFIT}")
        _read_verified(run_dir, name, manifest, _REFIT, what="model")


def _older(ckpt: Path) -> str:
    older = [p for p in list_checkpoints(ckpt.parent) if p.name < ckpt.name]
    if older:
        return f"the previous checkpoint is {older[0]}: resume with --resume-from {older[0]}"
    return "no older checkpoint is left; train again"


def resolve_checkpoint(path: Path, which: str = "latest") -> Path:
    """A checkpoint directory from a run directory, its checkpoints/ directory, or the checkpoint itself."""
    path = Path(path)
    if (path / "manifest.json").is_file() or path.name.startswith("step-"):
        return path
    root = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    name = _pointer(root, which) or _pointer(root, "latest")
    if name is None:
        raise UserError(f"no checkpoint in {path}: train first (attnlab train RECIPE --out {path})")
    return root / name


def load_checkpoint(path: Path, which: str = "latest", *, trainer_state: bool = True) -> Checkpoint:
    """Load and verify a checkpoint. Raises UserError naming the file if anything fails its checksum."""
    ckpt = resolve_checkpoint(path, which)
    manifest_path = ckpt / "manifest.json"
    if not manifest_path.is_file():
        raise UserError(
            f"checkpoint {ckpt} has no manifest.json; it is incomplete or not an attnlab checkpoint"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"checkpoint file {manifest_path} is corrupt (not JSON); {_older(ckpt)}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f"checkpoint {manifest_path} has an unknown format; expected {FORMAT}")
    model = _safetensors(ckpt, "model.safetensors", manifest)
    tensors, meta = {}, {}
    if trainer_state:
        tensors = _safetensors(ckpt, "trainer.safetensors", manifest)
        path = ckpt / "trainer.json"
        try:
            meta = json.loads(_read_verified(ckpt, "trainer.json", manifest).decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError(f"checkpoint file {path} is corrupt (not JSON); {_older(ckpt)}") from None
        if not (
            isinstance(meta, dict)
            and isinstance(meta.get("state"), dict)
            and isinstance(meta.get("optimizer"), dict)
        ):
            raise UserError(f"checkpoint file {path} lacks the trainer state; {_older(ckpt)}")
    return Checkpoint(path=ckpt, model=model, tensors=tensors, meta=meta)


def _safetensors(ckpt: Path, name: str, manifest: dict) -> dict[str, torch.Tensor]:
    """Parse a verified safetensors file (a header and raw tensor bytes: nothing in it can run code)."""
    data = _read_verified(ckpt, name, manifest)
    try:
        return st_load(data)
    except (SafetensorError, ValueError, TypeError, OverflowError) as err:
        raise UserError(
            f"checkpoint file {ckpt / name} cannot be read as safetensors ({err}); {_older(ckpt)}"
        ) from None


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """Load weights saved by `save_model` (tied weights appear once) into `model`, strictly."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    # Tied parameters were stored under one name; fill the aliases from the tensor they share storage with.
    by_ptr = {(own[k].data_ptr(), tuple(own[k].shape)): k for k in own if k in state and own[k].numel()}
    for k in list(missing):
        twin = by_ptr.get((own[k].data_ptr(), tuple(own[k].shape)))
        if twin is not None:
            state[k] = state[twin]
            missing.remove(k)
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise UserError(
            f"checkpoint {source} does not match the model built from its config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}); was the recipe changed after training?"
        )
    bad = [k for k in own if tuple(own[k].shape) != tuple(state[k].shape)]
    if bad:
        raise UserError(f"checkpoint {source} has weights of the wrong shape for {bad[:3]}")
    model.load_state_dict(state, strict=True)
