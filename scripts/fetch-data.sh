#!/usr/bin/env bash
# Builds proact's real parallel corpora from Debian packages (docs/design.md §7, docs/data.md):
# downloads the packages with `apt-get download`, unpacks them with `dpkg-deb -x` (nothing is
# installed, except libsword-utils for mod2imp when it is missing), and runs
# scripts/data/build_corpora.py, which does the extraction and alignment.
# Deterministic and idempotent: the same package versions give byte-identical files, and a run
# whose outputs are present and match the pinned checksums only prints the counts.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/fetch-data.sh [--out DIR] [--fixture] [--pretrain] [--accept-new] [--force] [--help]

Builds three parallel corpora from Debian bookworm packages into DIR (default: data/ at the
repository root), each as {train,valid,test}.tsv (source TAB target) and .ref (origin of each
pair, line for line):
  DIR/libreoffice-en-de/  LibreOffice help en->de, aligned by paragraph id
                          (test: module text/simpress, valid: text/sdatabase, train: the rest)
  DIR/ding-en-de/         Ding example sentences en->de (split by a hash of the English side)
  DIR/bible-en-es/        World English Bible -> Reina-Valera 1909, aligned by verse
                          (test: John, valid: Ruth, train: the rest)
With --pretrain it also builds the large en->de training corpus (about 180 MB of packages to
download, 1.1 GB unpacked in the cache):
  DIR/en-de-pretrain/     train.tsv (English TAB German) and train.ref (domain TAB origin),
                          valid.* (1% by a hash of the English side), PACKAGES, LICENSES, STATS:
                          the German gettext catalogs of a fresh machine (the packages of
                          priority required, important and standard) and of 17 translation
                          packages, GNOME help, the Debian handbook, and the training splits of
                          libreoffice-en-de and ding-en-de; 3-40 English words, placeholders
                          filtered, deduplicated, nothing whose English side is in a valid or
                          test split above
Downloads are cached in DIR/.cache. DIR/PACKAGES lists the package versions used and
DIR/SHA256SUMS the checksums of all outputs, which must match the pinned
scripts/fetch-data.sha256.

options:
  --out DIR     write the corpora to DIR
  --fixture     also regenerate the small in-repository fixture tests/data/fixture/
  --pretrain    also build DIR/en-de-pretrain/ (docs/data.md)
  --accept-new  accept outputs that differ from the pinned checksums (e.g. after a Debian
                point release) and update scripts/fetch-data.sha256
  --force       rebuild even when the outputs are up to date
  -h, --help    show this message
EOF
}

die() { echo "fetch-data: error: $*" >&2; exit 1; }
log() { echo "fetch-data: $*" >&2; }

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/data"
want_fixture=0
want_pretrain=0
accept_new=0
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out="$2"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    --fixture) want_fixture=1; shift ;;
    --pretrain) want_pretrain=1; shift ;;
    --accept-new) accept_new=1; shift ;;
    --force) force=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

PY=/usr/bin/python3
BUILDER="$root/scripts/data/build_corpora.py"
PRETRAIN_BUILDER="$root/scripts/data/pretrain.py"
PINNED="$root/scripts/fetch-data.sha256"
FIXTURE_DIR="$root/tests/data/fixture"
FIXTURE_FILES=(README.md john.en-es.train.tsv john.en-es.test.tsv
               libreoffice.en-de.train.tsv libreoffice.en-de.test.tsv)
CORPORA=(libreoffice-en-de ding-en-de bible-en-es)
# Packages downloaded (not installed). Their files:
#   libreoffice-help-{en-us,de}: usr/share/libreoffice/help/{en-US,de}/text/<module>/*.html
#   trans-de-en:                 usr/share/trans/de-en (the Ding dictionary)
#   sword-text-{web,sparv}:      usr/share/sword/{mods.d,modules} (SWORD modules)
PACKAGES=(libreoffice-help-en-us libreoffice-help-de trans-de-en sword-text-web sword-text-sparv)
WEB_MODULE=engWEB2015eb   # in sword-text-web: World English Bible (with deuterocanon)
RV_MODULE=spaRV1909eb     # in sword-text-sparv: Reina-Valera 1909
# The pretraining corpus (--pretrain) reads the German gettext catalogs (*/de/LC_MESSAGES/*.mo) of
# "a fresh machine", defined as the packages of priority required, important and standard that
# apt knows (what debootstrap and tasksel's "standard system utilities" install: a Debian system
# without a desktop), and of these translation packages (issue 20):
PRETRAIN_L10N=(gcc-12-locales libreoffice-l10n-de blender-data inkscape gimp-data digikam-data
               gramps vlc-l10n evolution-common gnucash-common lyx-common cinnamon-l10n
               audacity-data claws-mail-i18n gnumeric-common pidgin-data krita-l10n)
# and two manuals: usr/share/help/{C,de} (Mallard) and usr/share/doc/debian-handbook/html/
# {en-US,de-DE} (Publican HTML).
PRETRAIN_DOCS=(gnome-user-docs debian-handbook)
PRETRAIN=en-de-pretrain

for tool in apt-get apt-cache dpkg-deb dpkg-query sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (this script needs Debian's apt and dpkg)"
done
[ -x "$PY" ] || die "$PY not found (install python3)"
mkdir -p "$out"
out=$(cd "$out" && pwd)
cache="$out/.cache"
mkdir -p "$cache/debs"
SECONDS=0

# --- package versions -------------------------------------------------------------------------

# The version apt would download now (from the local package lists; no network).
candidate_version() {
  local v
  v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
  if [ -z "$v" ] || [ "$v" = "(none)" ]; then
    die "Debian package '$1' is not known to apt; run 'apt-get update' (bookworm main must be in the sources)"
  fi
  echo "$v"
}
declare -A VERSION
for p in "${PACKAGES[@]}"; do VERSION[$p]=$(candidate_version "$p") || exit 1; done

# The lines of DIR/PACKAGES for the downloaded packages (mod2imp's version is added at build).
package_lines() { for p in "${PACKAGES[@]}"; do echo "$p ${VERSION[$p]}"; done; }

builder_hash() { sha256sum "$BUILDER" | cut -d' ' -f1; }

# The fresh machine's packages: priority required, important or standard, sorted by name.
system_packages() {
  apt-cache dumpavail | awk 'BEGIN { RS = ""; FS = "\n" }
    { p = ""; pri = ""
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^Package: /) p = substr($i, 10)
        if ($i ~ /^Priority: /) pri = substr($i, 11)
      }
      if (pri == "required" || pri == "important" || pri == "standard") print p }' |
    LC_ALL=C sort -u
}

# "package version group" of every package of the pretraining corpus (its PACKAGES file); sets
# PRETRAIN_PACKAGES and their VERSION entries.
PRETRAIN_PACKAGES=()
pretrain_manifest() {
  local p
  for p in "${PRETRAIN_PACKAGES[@]}"; do
    case " ${PRETRAIN_L10N[*]} " in
      *" $p "*) echo "$p ${VERSION[$p]} l10n" ;;
      *) case " ${PRETRAIN_DOCS[*]} " in
           *" $p "*) echo "$p ${VERSION[$p]} $p" ;;
           *) echo "$p ${VERSION[$p]} system" ;;
         esac ;;
    esac
  done
}
resolve_pretrain_packages() {
  local p
  mapfile -t PRETRAIN_PACKAGES < <(system_packages)
  [ "${#PRETRAIN_PACKAGES[@]}" -gt 50 ] || die "apt knows only ${#PRETRAIN_PACKAGES[@]} packages of priority required/important/standard; run 'apt-get update'"
  PRETRAIN_PACKAGES+=("${PRETRAIN_L10N[@]}" "${PRETRAIN_DOCS[@]}")
  # One apt-cache call for all (each call reads the package lists: about 0.7 s).
  local pkg="" line
  while IFS= read -r line; do
    case "$line" in
      [!\ ]*:) pkg=${line%:} ;;
      "  Candidate: "*) VERSION[$pkg]=${line#"  Candidate: "} ;;
    esac
  done < <(apt-cache policy "${PRETRAIN_PACKAGES[@]}" 2>/dev/null)
  for p in "${PRETRAIN_PACKAGES[@]}"; do
    case "${VERSION[$p]:-}" in
      ""|"(none)") die "Debian package '$p' is not known to apt; run 'apt-get update' (bookworm main must be in the sources)" ;;
    esac
  done
}

# The pretraining corpus is current only for the same builder and the same base corpora.
pretrain_inputs_hash() {
  cat "$root"/scripts/data/*.py "$out/SHA256SUMS" | sha256sum | cut -d' ' -f1
}

# --- checksums --------------------------------------------------------------------------------

# Checksum lines "HASH  path" of the fixture files, paths prefixed with fixture/.
fixture_sums() {
  (cd "$FIXTURE_DIR" && sha256sum "${FIXTURE_FILES[@]}") | sed 's|  |  fixture/|'
}

# Pinned lines (no comments): only the data lines, only the fixture lines or only the
# pretraining corpus's lines.
pinned_data() {
  if [ -f "$PINNED" ]; then grep -v '^#' "$PINNED" | grep -v -e '  fixture/' -e "  $PRETRAIN/" || true; fi
}
pinned_fixture() { if [ -f "$PINNED" ]; then grep -v '^#' "$PINNED" | grep '  fixture/' || true; fi; }
pinned_pretrain() { if [ -f "$PINNED" ]; then grep -v '^#' "$PINNED" | grep "  $PRETRAIN/" || true; fi; }

data_up_to_date() {
  [ -f "$out/SHA256SUMS" ] && [ -f "$out/PACKAGES" ] && [ -f "$cache/builder.sha256" ] || return 1
  (cd "$out" && sha256sum --quiet --strict -c SHA256SUMS >/dev/null 2>&1) || return 1
  [ "$(pinned_data)" = "$(cat "$out/SHA256SUMS")" ] || return 1
  [ "$(cat "$cache/builder.sha256")" = "$(builder_hash)" ] || return 1
  # The versions apt offers now are the ones the outputs were built from.
  [ "$(grep -v '^#' "$out/PACKAGES" | grep -v '(installed' )" = "$(package_lines)" ] || return 1
}

pretrain_up_to_date() {
  local d="$out/$PRETRAIN"
  [ -f "$d/SHA256SUMS" ] && [ -f "$d/PACKAGES" ] && [ -f "$cache/pretrain-inputs.sha256" ] || return 1
  (cd "$out" && sha256sum --quiet --strict -c "$PRETRAIN/SHA256SUMS" >/dev/null 2>&1) || return 1
  [ "$(pinned_pretrain)" = "$(cat "$d/SHA256SUMS")" ] || return 1
  [ "$(cat "$cache/pretrain-inputs.sha256")" = "$(pretrain_inputs_hash)" ] || return 1
  [ "$(grep -v '^#' "$d/PACKAGES")" = "$(pretrain_manifest)" ] || return 1
}

fixture_up_to_date() {
  local f
  for f in "${FIXTURE_FILES[@]}"; do [ -f "$FIXTURE_DIR/$f" ] || return 1; done
  [ "$(pinned_fixture)" = "$(fixture_sums)" ]
}

# Compares current checksum lines ($1) with pinned ones ($2); prints the differences.
report_differences() {
  "$PY" - "$1" "$2" <<'PY'
import sys
cur = dict(reversed(l.split("  ", 1)) for l in sys.argv[1].splitlines() if l)
pin = dict(reversed(l.split("  ", 1)) for l in sys.argv[2].splitlines() if l)
for path in sorted(set(cur) | set(pin)):
    if path not in pin:
        print("  not pinned:  " + path)
    elif path not in cur:
        print("  missing:     " + path)
    elif cur[path] != pin[path]:
        print("  differs:     " + path)
PY
}

# Writes scripts/fetch-data.sha256 from DIR/SHA256SUMS, the fixture lines ($1) and the
# pretraining corpus's lines ($2).
write_pins() {
  {
    echo "# Pinned SHA-256 of what scripts/fetch-data.sh builds: DIR/ (default data/) and, with"
    echo "# --fixture, tests/data/fixture/ (as fixture/...). A mismatch means other inputs (e.g. a"
    echo "# Debian point release); check the data, then: scripts/fetch-data.sh --fixture --accept-new"
    echo "# Built from:"
    grep -v '^#' "$out/PACKAGES" | sed 's/^/#   /'
    if [ -n "$2" ]; then
      echo "# and, for $PRETRAIN/ (--pretrain), the packages listed in $PRETRAIN/PACKAGES (pinned here)"
    fi
    cat "$out/SHA256SUMS"
    [ -z "$2" ] || echo "$2"
    [ -z "$1" ] || echo "$1"
  } > "$PINNED.tmp"
  mv "$PINNED.tmp" "$PINNED"
}

# --- downloading and unpacking ----------------------------------------------------------------

# Prints the cached .deb of PKG at VERSION, if any.
cached_deb() {
  local f
  for f in "$cache/debs/${1}_"*.deb; do
    [ -e "$f" ] && [ "$(dpkg-deb -f "$f" Version 2>/dev/null)" = "$2" ] && { echo "$f"; return; }
  done
  return 0
}

# Downloads PKG=VERSION into the cache unless present with the archive's checksum (SHA256 if
# given, else asked from apt); unpacks it into $cache/x/PKG. Prints the .deb's path.
fetch_package() {
  local pkg="$1" ver="$2" deb want="${3:-}" x
  [ -n "$want" ] || want=$(apt-cache show "$pkg=$ver" 2>/dev/null | awk '/^SHA256:/ {print $2; exit}')
  deb=$(cached_deb "$pkg" "$ver")
  if [ -n "$deb" ] && [ -n "$want" ] && [ "$(sha256sum "$deb" | cut -d' ' -f1)" != "$want" ]; then
    log "cached $(basename "$deb") is corrupt; downloading it again"
    rm -f "$deb"; deb=""
  fi
  if [ -z "$deb" ]; then
    log "downloading $pkg $ver"
    rm -f "$cache/debs/${pkg}_"*.deb   # older versions
    # As root, apt's download sandbox user (_apt) cannot write here: run it as root instead.
    local sandbox=()
    [ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
    if ! (cd "$cache/debs" && apt-get download -q "${sandbox[@]}" "$pkg=$ver") >"$cache/apt.log" 2>&1; then
      cat "$cache/apt.log" >&2
      die "could not download Debian package '$pkg' ($ver) with apt-get download (output above)"
    fi
    deb=$(cached_deb "$pkg" "$ver")
    [ -n "$deb" ] || die "apt-get download of '$pkg' ($ver) left no .deb in $cache/debs"
  fi
  x="$cache/x/$pkg"
  if [ "$(cat "$x/.version" 2>/dev/null)" != "$ver" ]; then
    rm -rf "$x"; mkdir -p "$x"
    dpkg-deb -x "$deb" "$x" || die "could not unpack $deb (Debian package '$pkg')"
    echo "$ver" > "$x/.version"
  fi
  echo "$deb"
}

# Downloads every PKG=VERSION argument missing from the cache with one apt-get call (one call
# per package costs seconds each for the pretraining corpus's 120 packages); fetch_package then
# checks and unpacks them.
prefetch_packages() {
  local want=() arg pkg
  for arg in "$@"; do
    pkg=${arg%%=*}
    [ -n "$(cached_deb "$pkg" "${arg#*=}")" ] || { rm -f "$cache/debs/${pkg}_"*.deb; want+=("$arg"); }
  done
  [ "${#want[@]}" -gt 0 ] || return 0
  log "downloading ${#want[@]} packages"
  local sandbox=()
  [ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
  if ! (cd "$cache/debs" && apt-get download -q "${sandbox[@]}" "${want[@]}") >"$cache/apt.log" 2>&1; then
    cat "$cache/apt.log" >&2
    die "could not download the Debian packages with apt-get download (output above)"
  fi
}

# mod2imp (libsword-utils) exports a SWORD module as text. Installed when missing, like
# scripts/install-deps.sh does; --no-install-recommends keeps it to 4 small packages.
ensure_mod2imp() {
  command -v mod2imp >/dev/null 2>&1 && return
  log "installing libsword-utils (for mod2imp)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        libsword-utils >"$cache/apt-install.log" 2>&1; then
    cat "$cache/apt-install.log" >&2
    die "could not install Debian package 'libsword-utils' (needed for mod2imp; output above)"
  fi
  command -v mod2imp >/dev/null 2>&1 || die "libsword-utils is installed but mod2imp is not on PATH"
}

# Exports SWORD module $1 from the unpacked packages to $cache/imp/$1.imp.
export_module() {
  local module="$1" sword="$cache/sword"
  [ -f "$sword/mods.d/$module.conf" ] || \
    die "SWORD module '$module' not found; the packages provide: $(cd "$sword/mods.d" && ls | sed 's/\.conf$//' | tr '\n' ' ')"
  mkdir -p "$cache/imp" "$cache/home"
  # Only our module tree: SWORD_PATH set, and HOME pointing away from any ~/.sword.
  HOME="$cache/home" SWORD_PATH="$sword" mod2imp "$module" > "$cache/imp/$module.imp" \
    || die "mod2imp $module failed"
  grep -q '^\$\$\$John 1:1$' "$cache/imp/$module.imp" || die "mod2imp $module gave no Gospel of John"
}

build_data() {
  local p deb debs=() bytes=0
  for p in "${PACKAGES[@]}"; do
    deb=$(fetch_package "$p" "${VERSION[$p]}") || exit 1
    debs+=("$deb")
  done
  for d in "${debs[@]}"; do bytes=$((bytes + $(stat -c %s "$d"))); done
  log "packages: ${#debs[@]} .deb files, $((bytes / 1024)) KiB (cached in $cache/debs)"
  ensure_mod2imp
  local sword_ver
  sword_ver=$(dpkg-query -W -f='${Version}' libsword-utils 2>/dev/null || echo unknown)

  rm -rf "$cache/sword"; mkdir -p "$cache/sword"
  cp -r "$cache/x/sword-text-web/usr/share/sword/." "$cache/sword/"
  cp -r "$cache/x/sword-text-sparv/usr/share/sword/." "$cache/sword/"
  export_module "$WEB_MODULE"
  export_module "$RV_MODULE"

  # Build into a scratch directory and move into place only when all three succeeded.
  local build="$cache/build" help="usr/share/libreoffice/help" pids=() pid status=0
  rm -rf "$build"; mkdir -p "$build"
  log "building corpora"
  "$PY" "$BUILDER" libreoffice "$cache/x/libreoffice-help-en-us/$help/en-US" \
    "$cache/x/libreoffice-help-de/$help/de" "$build/libreoffice-en-de" & pids+=($!)
  "$PY" "$BUILDER" ding "$cache/x/trans-de-en/usr/share/trans/de-en" "$build/ding-en-de" & pids+=($!)
  "$PY" "$BUILDER" bible "$cache/imp/$WEB_MODULE.imp" "$cache/imp/$RV_MODULE.imp" \
    "$build/bible-en-es" & pids+=($!)
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  [ "$status" -eq 0 ] || die "scripts/data/build_corpora.py failed (output above)"
  {
    echo "# Debian bookworm packages the corpora were built from"
    package_lines
    echo "libsword-utils $sword_ver (installed; its mod2imp exported $WEB_MODULE and $RV_MODULE)"
  } > "$build/PACKAGES"

  for c in "${CORPORA[@]}"; do rm -rf "${out:?}/$c"; mv "$build/$c" "$out/$c"; done
  mv "$build/PACKAGES" "$out/PACKAGES"
  # Only these corpora: en-de-pretrain/ has its own SHA256SUMS.
  (cd "$out" && for c in "${CORPORA[@]}"; do sha256sum -- "$c"/*.tsv "$c"/*.ref; done
   sha256sum -- PACKAGES) | LC_ALL=C sort -k2 > "$out/SHA256SUMS"
  builder_hash > "$cache/builder.sha256"
}

build_pretrain() {
  local p deb bytes=0 n=0 build="$cache/pretrain-build" args=()
  for p in "${PRETRAIN_PACKAGES[@]}"; do args+=("$p=${VERSION[$p]}"); done
  prefetch_packages "${args[@]}"
  # The archive's checksums of all of them, from one apt-cache call.
  declare -A sha
  while read -r p ver hash; do sha[$p=$ver]=$hash; done < <(apt-cache show "${args[@]}" 2>/dev/null |
    awk '/^Package: / {p = $2} /^Version: / {v = $2} /^SHA256: / {print p, v, $2}')
  for p in "${PRETRAIN_PACKAGES[@]}"; do
    deb=$(fetch_package "$p" "${VERSION[$p]}" "${sha[$p=${VERSION[$p]}]:-}") || exit 1
    bytes=$((bytes + $(stat -c %s "$deb"))); n=$((n + 1))
  done
  log "pretraining corpus: $n .deb files, $((bytes / 1048576)) MiB (cached in $cache/debs)"
  rm -rf "$build"; mkdir -p "$build"
  pretrain_manifest > "$build/MANIFEST"
  log "building $PRETRAIN"
  "$PY" "$PRETRAIN_BUILDER" build "$out" "$cache/x" "$build/MANIFEST" "$build/$PRETRAIN" \
    || die "scripts/data/pretrain.py failed (output above)"
  rm -rf "${out:?}/$PRETRAIN"; mv "$build/$PRETRAIN" "$out/$PRETRAIN"
  (cd "$out" && sha256sum -- "$PRETRAIN"/{PACKAGES,LICENSES,STATS,train.tsv,train.ref,valid.tsv,valid.ref}) \
    > "$out/$PRETRAIN/SHA256SUMS"
  pretrain_inputs_hash > "$cache/pretrain-inputs.sha256"
}

build_fixture() {
  local args=() line
  while read -r line; do
    args+=("${line%% *}=${line#* }")
  done < <(grep -v '^#' "$out/PACKAGES" | sed 's/ (installed.*//')
  log "writing the fixture to ${FIXTURE_DIR#"$root"/}"
  "$PY" "$BUILDER" fixture "$out" "$FIXTURE_DIR" "${args[@]}" || die "building the fixture failed"
}

# --- main -------------------------------------------------------------------------------------

mismatch=0
if [ "$force" -eq 0 ] && data_up_to_date; then
  log "${out} is up to date (checksums match scripts/fetch-data.sha256)"
  built=0
else
  build_data
  built=1
fi

pretrain_lines="$(pinned_pretrain)"
if [ "$want_pretrain" -eq 1 ]; then
  resolve_pretrain_packages
  if [ "$built" -eq 1 ] || [ "$force" -eq 1 ] || ! pretrain_up_to_date; then
    build_pretrain
  else
    log "$out/$PRETRAIN is up to date (checksums match scripts/fetch-data.sha256)"
  fi
  pretrain_lines="$(cat "$out/$PRETRAIN/SHA256SUMS")"
fi

fixture_lines="$(pinned_fixture)"
if [ "$want_fixture" -eq 1 ]; then
  if [ "$built" -eq 1 ] || [ "$force" -eq 1 ] || ! fixture_up_to_date; then
    build_fixture
  else
    log "tests/data/fixture is up to date"
  fi
  fixture_lines="$(fixture_sums)"
fi

if [ ! -f "$PINNED" ]; then
  write_pins "$fixture_lines" "$pretrain_lines"
  log "no pinned checksums yet: wrote scripts/fetch-data.sha256 from this run"
else
  current="$(cat "$out/SHA256SUMS")"
  pinned="$(pinned_data)"
  if [ "$want_fixture" -eq 1 ]; then
    current="$current"$'\n'"$(fixture_sums)"
    pinned="$pinned"$'\n'"$(pinned_fixture)"
  fi
  if [ "$want_pretrain" -eq 1 ]; then
    current="$current"$'\n'"$pretrain_lines"
    pinned="$pinned"$'\n'"$(pinned_pretrain)"
  fi
  if [ "$current" != "$pinned" ]; then
    echo "fetch-data: the outputs differ from the pinned checksums (scripts/fetch-data.sha256):" >&2
    report_differences "$current" "$pinned" >&2
    echo "fetch-data: built from:" >&2
    grep -v '^#' "$out/PACKAGES" | sed 's/^/  /' >&2
    echo "fetch-data: pinned checksums were made from:" >&2
    { grep '^#   ' "$PINNED" || true; } | sed 's/^#   /  /' >&2
    if [ "$accept_new" -eq 1 ]; then
      write_pins "$fixture_lines" "$pretrain_lines"
      log "--accept-new: updated scripts/fetch-data.sha256"
    else
      mismatch=1
    fi
  fi
fi

echo
"$PY" "$BUILDER" counts "$out"
echo
if [ "$want_pretrain" -eq 1 ]; then
  "$PY" "$PRETRAIN_BUILDER" counts "$out/$PRETRAIN"
  echo
fi
echo "fetch-data: done in ${SECONDS}s; corpora in $out"
if [ "$mismatch" -eq 1 ]; then
  die "checksums differ from scripts/fetch-data.sha256 (see above); rerun with --accept-new to accept them"
fi
