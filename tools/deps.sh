# Sourced by tools/run and tools/test: installs the Debian 12 packages fcpmail needs, only those
# that are missing, non-interactively. Nothing is ever fetched from outside Debian's archive.
build_packages=(build-essential cmake pkg-config libboost1.74-dev libcrypto++-dev nlohmann-json3-dev
  libsqlitecpp-dev libsqlite3-dev doctest-dev)
# What the integration tests drive: real mail clients and tools.
test_packages=(curl mutt isync swaks python3 openssl procps chromium)
# What tools/bench compares fcpmail's IMAP server with (started privately on loopback by the bench).
bench_packages=(dovecot-imapd)

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

configure_and_build() {  # configure_and_build BUILD_DIR [extra cmake args...]
  local dir=$1; shift
  local launcher=()
  # ccache, where the machine has it, makes a rebuild in a fresh clone take seconds; never required.
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}
