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
