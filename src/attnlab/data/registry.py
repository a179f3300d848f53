"""Dataset names → files, download URLs, sha256 pins, and where the data lives on this machine.

Tasks never take a path: they ask for a dataset by name, and `resolve(name)` finds it, first under
`$ATTNLAB_DATA/<name>` (a directory laid out like `shared/data`, e.g. a lab's read-only copy), then in the
download cache `cache_dir()/<name>` written by `attnlab data fetch`. A cached copy counts only once its
`.complete` marker exists; `fetch` writes that marker last, so an interrupted download is never picked up.

Each `DatasetInfo` records two things that differ on purpose:

* `files` — the files as they sit in `shared/data` (with sha256 and size), i.e. the layout readers expect;
* `downloads` — the public upstream URLs a real user fetches, with pinned sha256, plus how each download
  becomes that layout (copy, gunzip, zip members → local names, or a named converter such as the IMDB
  tarball → `train.csv`/`test.csv`). The shared copies of spa-eng, fra-eng and chatbot-ko had a private
  hold-out removed, so a fresh download has slightly more rows than `rows` says; the format is the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from attnlab.errors import UserError

COMPLETE_MARKER = ".complete"
"""File written last by `fetch`; a cache directory without it is a half-written download."""

Unpack = Literal["file", "gzip", "zip", "tar"]


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset as it sits in `shared/data/<name>/` (path relative to that directory)."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Download:
    """One upstream URL and how it turns into local files.

    * `unpack="file"`: saved as `dest` (default: the URL's basename).
    * `unpack="gzip"`: decompressed to `dest`; `sha256` is then the sha of the *decompressed* content when
      `verify="content"` (used for Multi30k, whose upstream documents only the decompressed files).
    * `unpack="zip"` / `"tar"`: `members` maps archive member → local path; with no members the archive is
      handed to the dataset's `convert` step instead.
    """

    url: str
    sha256: str
    dest: str = ""
    unpack: Unpack = "file"
    members: tuple[tuple[str, str], ...] = ()
    verify: Literal["download", "content"] = "download"

    @property
    def filename(self) -> str:
        """Local name of the downloaded bytes (before any unpacking)."""
        return self.url.rstrip("/").rsplit("/", 1)[-1] or "download"

    @property
    def target(self) -> str:
        """Local file written for `file`/`gzip` downloads."""
        if self.dest:
            return self.dest
        name = self.filename
        return name[: -len(".gz")] if self.unpack == "gzip" and name.endswith(".gz") else name


@dataclass(frozen=True)
class DatasetInfo:
    """Everything attnlab knows about one dataset. `url`/`url_sha256` are the primary download;
    `downloads` lists all of them (filled from `url`/`url_sha256` when not given)."""

    name: str
    task: str
    description: str
    files: tuple[FileSpec, ...]
    rows: str
    license: str
    source: str
    url: str = ""
    url_sha256: str = ""
    downloads: tuple[Download, ...] = ()
    convert: str | None = None
    """Name of a converter in `attnlab.data.fetch.CONVERTERS` run after downloading (e.g. "imdb")."""
    languages: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.downloads and self.url:
            object.__setattr__(self, "downloads", (Download(self.url, self.url_sha256),))
        if self.downloads and not self.url:
            object.__setattr__(self, "url", self.downloads[0].url)
            object.__setattr__(self, "url_sha256", self.downloads[0].sha256)


def _gh(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


_MULTI30K_COMMIT = "a3d2e0d26b56f3846f66a952536ffed4e401d05a"
_MULTI30K_FILES = (
    # (upstream stem, local name, sha256 of the decompressed file, size)
    ("train.en", "train.en", "460a15fbd157e34a7a9957ee388c1ca247fe47af3ef25fb50442af6c274e0fc6", 1801238),
    ("train.de", "train.de", "2c2b73fd2b548fbcde3a875e0a78d6ee94d498bfdee6bd3eae3945779e9ddf72", 2110398),
    ("val.en", "val.en", "1f2a23d992769b5b3d209b0a10dd0b77c08cceb1f20dfb97ed0aafa49d107227", 63297),
    ("val.de", "val.de", "660e09eb7e1da2f856ea13ee5ad3cf6d36b3d5b0b733c857e94c5747a3dfc660", 75981),
    (
        "test_2016_flickr.en",
        "test2016.en",
        "399a4382932c1aadd3ceb9bef1008d388a64c76d4ae4e9d4728c6f4301cac182",
        62076,
    ),
    (
        "test_2016_flickr.de",
        "test2016.de",
        "4be6b5b3236b79c25475c6bb829800a7ce559e9ba7a1f6c2394fe4d40be46d16",
        70649,
    ),
)

_TATOEBA_LICENSE = "CC-BY 2.0 FR (attribution: www.manythings.org/anki and tatoeba.org)"

DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            name="spa-eng",
            task="translation",
            description="English–Spanish Tatoeba sentence pairs (manythings.org export used by the TF "
            "nmt_with_attention tutorial); `English<TAB>Spanish`.",
            files=(
                FileSpec(
                    "spa.txt", "3ee6535b832b6f67b40eaa452b6ac545d277dab4109b9e91a3a1a97a3df86965", 7906604
                ),
                FileSpec(
                    "_about.txt", "df6f57ec7e6d9b31e2b9c8b6a4e0bea4aebe0a408a8e7fb24ae217e37ef4e92f", 1441
                ),
            ),
            rows="116,964 pairs",
            license=_TATOEBA_LICENSE,
            source="Tatoeba via manythings.org/anki (2018-05-13 export, TensorFlow copy)",
            downloads=(
                Download(
                    "https://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip",
                    "f80e581ae291aa34dd3aba7bd98b5e9505234da4318e2f3295df70a1520c7f61",
                    unpack="zip",
                    members=(("spa-eng/spa.txt", "spa.txt"), ("spa-eng/_about.txt", "_about.txt")),
                ),
            ),
            languages=("en", "es"),
        ),
        DatasetInfo(
            name="fra-eng",
            task="translation",
            description="English–French Tatoeba sentence pairs (2019-04-07 manythings.org export as "
            "distributed by d2l); `English<TAB>French`, French no-break spaces kept.",
            files=(
                FileSpec(
                    "fra.txt", "07ab4c270b5c94f29da332d558bafb451461b959e5186831fe82485d720c2505", 11528465
                ),
                FileSpec(
                    "_about.txt", "79f39a53dbddaf7ab43c801f231089174a611f23987244056f9e3cb5aa79358b", 1441
                ),
            ),
            rows="165,130 pairs",
            license=_TATOEBA_LICENSE,
            source="Tatoeba via manythings.org/anki (2019-04-07 export, d2l copy)",
            # The d2l copy, not www.manythings.org/anki/fra-eng.zip: manythings replaces its export in place
            # (so no sha can be pinned) and refuses non-browser clients.
            downloads=(
                Download(
                    "https://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip",
                    "161c93f18da3a7e6df611ed961426613260de8af06ccf8c79c977afe5135ac44",
                    unpack="zip",
                    members=(("fra-eng/fra.txt", "fra.txt"), ("fra-eng/_about.txt", "_about.txt")),
                ),
            ),
            languages=("en", "fr"),
        ),
        DatasetInfo(
            name="imdb",
            task="classification",
            description="IMDB Large Movie Review Dataset v1.0 (Maas et al. 2011), canonical 25k/25k split; "
            "CSV `review,sentiment` (positive/negative).",
            files=(
                FileSpec(
                    "train.csv", "cec70d22bae3ee24305de69cbae06ef0b6378019e3057084414a990070ce33ae", 33497173
                ),
                FileSpec(
                    "test.csv", "d5a8ff4831a599c0d712be860f797ff512842d8e50a341e08096b583f6522ece", 32715153
                ),
                FileSpec(
                    "meta.csv", "10e0a288327c42f0c5238f00f789f2e0dde5227669b8c134225f5e0b3a171acb", 2808406
                ),
                FileSpec(
                    "aclImdb_README.txt",
                    "a69bd3b91235c7fa1d6aadab51e257b7fa3f7b68f32b607483a72bd67f95e557",
                    4037,
                ),
            ),
            rows="25,000 train + 25,000 test reviews",
            license="research use (Stanford AI Lab); cite Maas et al., ACL 2011",
            source="Stanford AI Lab, aclImdb_v1.tar.gz",
            downloads=(
                Download(
                    "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                    "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
                    unpack="tar",
                ),
            ),
            convert="imdb",
        ),
        DatasetInfo(
            name="chatbot-ko",
            task="dialogue",
            description="Korean single-turn chatbot Q/A pairs (songys/Chatbot_data); CSV `Q,A,label` with "
            "label 0 everyday / 1 break-up / 2 love.",
            files=(
                FileSpec(
                    "ChatbotData.csv",
                    "ea38d3cbd320f83b1720e6e3ecab39994fc24d8d5ea688fb987191fdf7832a9d",
                    852014,
                ),
                FileSpec("LICENSE", "1d8084ef9ea897ec462ce6c0e538f97967894699aac65c933804062714d3330a", 1068),
            ),
            rows="11,323 Q/A pairs",
            license="MIT",
            source="GitHub songys/Chatbot_data@4cf20d13",
            downloads=(
                Download(
                    _gh("songys/Chatbot_data", "4cf20d13fc46f5037fd1c531cd566e2dd9f72974", "ChatbotData.csv"),
                    "287eb129695b577321c80ad397bb3c2279164d4ca577874d129fd3db5b30afe2",
                ),
                Download(
                    _gh("songys/Chatbot_data", "4cf20d13fc46f5037fd1c531cd566e2dd9f72974", "LICENSE"),
                    "1d8084ef9ea897ec462ce6c0e538f97967894699aac65c933804062714d3330a",
                ),
            ),
        ),
        DatasetInfo(
            name="nietzsche",
            task="language-modeling",
            description="Nietzsche, Beyond Good and Evil (Zimmern translation): the Keras "
            "lstm_text_generation corpus, 600,893 characters.",
            files=(
                FileSpec(
                    "nietzsche.txt",
                    "23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647",
                    600901,
                ),
            ),
            rows="600,893 characters",
            license="public domain",
            source="Keras text-datasets (Project Gutenberg #4363 excerpt)",
            # The shared copy is a verified reconstruction of this file (see its README); the pin is its sha.
            url="https://s3.amazonaws.com/text-datasets/nietzsche.txt",
            url_sha256="23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647",
        ),
        DatasetInfo(
            name="tinyshakespeare",
            task="language-modeling",
            description="Karpathy's char-rnn tiny Shakespeare: 1,115,394 characters, 65-character vocabulary.",
            files=(
                FileSpec(
                    "input.txt", "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", 1115394
                ),
            ),
            rows="1,115,394 characters",
            license="public domain (text); MIT (char-rnn repository)",
            source="GitHub karpathy/char-rnn@6f9487a6",
            url=_gh(
                "karpathy/char-rnn",
                "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e",
                "data/tinyshakespeare/input.txt",
            ),
            url_sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        ),
        DatasetInfo(
            name="multi30k",
            task="translation",
            description="Multi30k Task 1 English–German (Flickr30k captions), raw text; "
            "train / val / test2016 line-aligned files.",
            files=tuple(FileSpec(local, sha, size) for _, local, sha, size in _MULTI30K_FILES),
            rows="29,000 / 1,014 / 1,000 sentence pairs",
            license="research use (no explicit licence; Flickr30k captions non-commercial)",
            source="GitHub multi30k/dataset@a3d2e0d2 data/task1/raw",
            downloads=tuple(
                Download(
                    _gh("multi30k/dataset", _MULTI30K_COMMIT, f"data/task1/raw/{stem}.gz"),
                    sha,
                    dest=local,
                    unpack="gzip",
                    verify="content",
                )
                for stem, local, sha, _ in _MULTI30K_FILES
            ),
            languages=("de", "en"),
        ),
    )
}


def get(name: str) -> DatasetInfo:
    """The registry entry for `name`; an unknown name is a `UserError` listing the valid ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(DATASETS))}") from None


def cache_dir() -> Path:
    """Where `fetch` writes: `$ATTNLAB_CACHE`, else `~/.cache/attnlab`."""
    env = os.environ.get("ATTNLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "attnlab"


def is_complete(path: Path) -> bool:
    """True when a cache directory was fully written by `fetch` (its marker exists)."""
    return (path / COMPLETE_MARKER).is_file()


def locate(name: str) -> Path | None:
    """`$ATTNLAB_DATA/<name>` if that directory exists, else `cache_dir()/<name>` if complete, else None."""
    get(name)  # unknown names fail loudly here, not as "not found"
    env = os.environ.get("ATTNLAB_DATA")
    if env:
        candidate = Path(env).expanduser() / name
        if candidate.is_dir():
            return candidate
    cached = cache_dir() / name
    return cached if is_complete(cached) else None


def resolve(name: str) -> Path:
    """Like `locate`, but a missing dataset is a `UserError` that says how to get it."""
    path = locate(name)
    if path is None:
        raise UserError(
            f"dataset {name!r} not found: set ATTNLAB_DATA to a directory holding it, "
            f"or run `attnlab data fetch {name}`"
        )
    return path
