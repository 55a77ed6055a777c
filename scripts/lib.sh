# Shared by scripts/demo.sh and scripts/test.sh: say what we do, install
# what is missing, build. Source it; do not run it.

step() { printf '\n==> %s\n' "$*"; }

# as_root runs a command as root (directly, or through sudo).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "need root to run: $*" >&2
    return 1
  fi
}

# install_missing installs the Debian packages the build and tests need,
# only those that are not installed yet. gnutls-bin and libcoap3-bin are the
# peers of the interop tests (docs/interop.md).
install_missing() {
  local wanted=(build-essential cmake pkg-config openssl libssl-dev
                libgtest-dev libgmock-dev libbenchmark-dev gnutls-bin
                libcoap3-bin softhsm2 libp11-kit-dev "$@")
  local missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    step "all build dependencies are installed"
    return 0
  fi
  step "installing missing packages: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# build_project configures and builds into $1 with any extra cmake args.
build_project() {
  local dir=$1
  shift
  step "configuring in $dir${*:+ (cmake $*)}"
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DONEM2M_WERROR=ON "$@" >/dev/null
  step "building in $dir"
  cmake --build "$dir" -j"$(nproc)"
}
