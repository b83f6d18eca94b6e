"""Put the offline copy of Fashion-MNIST into the Keras cache, on machines without internet.

Keras reads Fashion-MNIST from ``$KERAS_HOME/datasets/fashion-mnist/`` (``~/.keras`` by
default) and downloads it when it is missing. This script copies the four files from
``../shared/data/fashion-mnist/`` there when the cache is empty and that folder exists,
after checking their SHA-256 sums. Anywhere else (a learner's laptop, Colab) it does
nothing, and Keras downloads the data itself on first use.
"""

import hashlib
import os
import shutil
import sys
from pathlib import Path

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def keras_cache():
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return home / "datasets" / "fashion-mnist"


def checksums(folder):
    sums = {}
    listing = folder / "SHA256SUMS"
    if listing.exists():
        for line in listing.read_text().splitlines():
            if line.strip():
                digest, name = line.split()
                sums[name.lstrip("*")] = digest
    return sums


def main():
    cache = keras_cache()
    if all((cache / name).exists() for name in FILES):
        print(f"Fashion-MNIST: already in the Keras cache ({cache}).")
        return 0
    offline = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion-mnist"
    if not offline.is_dir():
        print("Fashion-MNIST: not cached; Keras will download it on first use.")
        return 0
    expected = checksums(offline)
    cache.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        digest = hashlib.sha256((offline / name).read_bytes()).hexdigest()
        if name in expected and digest != expected[name]:
            print(f"Fashion-MNIST: {offline / name} does not match SHA256SUMS; not copied.", file=sys.stderr)
            return 1
        shutil.copy(offline / name, cache / name)
    print(f"Fashion-MNIST: copied the offline copy from {offline} into {cache}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
