#!/usr/bin/env bash
# Downloads the four MNIST files into data/mnist (or the directory given as $1) and checks the SHA-256 of
# their decompressed content. Files already present and correct are kept; a file that fails the check is
# deleted. Usage: data/fetch_mnist.sh [DIR]   Extra mirrors first: MNIST_MIRRORS="https://host/path/ ..."
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dest=${1:-$script_dir/mnist}

# Mirrors holding the canonical .gz files, tried in order (each URL ends with a slash).
read -r -a mirrors <<< "${MNIST_MIRRORS:-}"
mirrors+=(https://ossci-datasets.s3.amazonaws.com/mnist/
  https://storage.googleapis.com/cvdf-datasets/mnist/)

# The files and the SHA-256 of their decompressed content (the canonical MNIST; see data/README.md).
# A function rather than an associative array: macOS still ships bash 3.2.
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
expected_sha256() {
  case $1 in
    train-images-idx3-ubyte) echo ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db ;;
    train-labels-idx1-ubyte) echo 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5 ;;
    t10k-images-idx3-ubyte) echo 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7 ;;
    t10k-labels-idx1-ubyte) echo ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2 ;;
  esac
}

die() { echo "fetch_mnist: error: $*" >&2; exit 1; }
say() { echo "fetch_mnist: $*"; }

# ---- tools ----
if command -v sha256sum >/dev/null; then
  sha256_of() { sha256sum | cut -d' ' -f1; }
elif command -v shasum >/dev/null; then
  sha256_of() { shasum -a 256 | cut -d' ' -f1; }
else
  die "neither sha256sum nor shasum found (install coreutils)"
fi
command -v gzip >/dev/null || die "gzip not found"
if command -v curl >/dev/null; then
  download() { curl -fsSL --connect-timeout 15 --retry 2 -o "$2" "$1"; }
elif command -v wget >/dev/null; then
  download() { wget -q --timeout=15 --tries=3 -O "$2" "$1"; }
else
  download() { return 127; }
fi

# The SHA-256 of a file's decompressed content (gzip, detected by its magic bytes 1f 8b) or of the file
# itself (raw IDX files start with 00 00 08); empty if it cannot be read.
content_sha256() {
  local sum
  if [[ $(head -c 2 -- "$1" | od -An -tx1 | tr -d ' \n') == 1f8b ]]; then
    sum=$(gzip -dc -- "$1" 2>/dev/null | sha256_of) || sum=  # pipefail: a corrupt .gz gives no sum
  else
    sum=$(sha256_of < "$1") || sum=
  fi
  echo "$sum"
}

mkdir -p -- "$dest" || die "cannot create $dest"
[[ -w $dest ]] || die "$dest is not writable"

offline=
for name in "${files[@]}"; do
  want=$(expected_sha256 "$name")
  # keep what is already there and correct; delete what is not
  ok=
  for f in "$dest/$name" "$dest/$name.gz"; do
    [[ -f $f ]] || continue
    if [[ $(content_sha256 "$f") == "$want" ]]; then
      ok=1
    else
      say "$f: checksum mismatch (expected sha256 $want of the decompressed data); deleting it"
      rm -f -- "$f"
    fi
  done
  if [[ -n $ok ]]; then
    say "$name: present and verified"
    continue
  fi
  if ! command -v curl >/dev/null && ! command -v wget >/dev/null; then
    die "neither curl nor wget found: install one, or download the files by hand (see data/README.md)"
  fi
  if [[ -n $offline ]]; then
    say "$name: not downloading (no mirror answered)"
    continue
  fi

  part="$dest/$name.gz.part.$$"
  trap 'rm -f -- "$part"' EXIT
  reached=  # did any mirror answer at all?
  for mirror in "${mirrors[@]}"; do
    url="$mirror$name.gz"
    say "$name: downloading $url"
    if ! download "$url" "$part"; then
      say "$name: download from $url failed"
      rm -f -- "$part"
      continue
    fi
    reached=1
    got=$(content_sha256 "$part")
    if [[ $got != "$want" ]]; then
      say "$name: checksum mismatch for $url (sha256 of the decompressed data is ${got:-unreadable}, expected $want); deleting it"
      rm -f -- "$part"
      continue
    fi
    mv -f -- "$part" "$dest/$name.gz"
    ok=1
    say "$name: downloaded and verified"
    break
  done
  if [[ -z $ok && -z $reached ]]; then
    offline=1  # no mirror answered: the other downloads would fail alike (files present are still checked)
  fi
done

missing=()
for name in "${files[@]}"; do
  [[ -f $dest/$name || -f $dest/$name.gz ]] || missing+=("$name")  # whatever is there was verified
done
if ((${#missing[@]})); then
  die "could not get ${missing[*]} from any mirror (${mirrors[*]}); $dest is incomplete.
  Check your internet connection or proxy (curl and wget honour https_proxy), add a mirror with
  MNIST_MIRRORS=\"https://host/path/\", or copy the four files (raw or .gz) into $dest by hand and
  run this script again to verify them; MNIST_DIR=<dir> points digits at another directory."
fi
say "all four files are in $dest and match their SHA-256 sums"
