#!/usr/bin/env bash
# Builds `swamp` for release, as it is measured (scripts/bench.sh) and shipped:
#   bash scripts/release.sh                    # builds .build/release/swamp
#   bash scripts/release.sh --show-bin-path    # prints the directory it is in
# Other arguments go to `swift build` (`--product SwampBench`, say).
# Every module, the dependencies' included, is compiled with each function in a section of its
# own (`-function-sections`; `-ffunction-sections` for C), which Package.swift cannot ask of a
# dependency: the link can then lay out the functions the common commands run together, first
# (scripts/symbol-order.txt), so that a command touches a few MiB of code instead of most of the
# binary's, and drop the ones nothing calls. A plain `swift build -c release` builds the same
# program with a layout that costs each command 2-4 MiB more resident memory.
# The compiler does not rewrite an object whose sources did not change when only the flags did:
# a build directory that a plain release build filled is emptied first, once (a stamp file
# says it was).
set -euo pipefail
cd "$(dirname "$0")/.."
case " $* " in *" --product "*) product=() ;; *) product=(--product swamp) ;; esac
flags=(-c release "${product[@]}" -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections "$@")
case " $* " in *" --show-bin-path "*) exec swift build "${flags[@]}" ;; esac
bin=$(swift build "${flags[@]}" --show-bin-path)
if [ -d "$bin" ] && [ ! -e "$bin/.function-sections" ]; then
  echo "release.sh: $bin was built without a section per function; building it again, whole" >&2
  rm -rf "$bin"
fi
# The C++ runtime, SQLite and zlib are linked in rather than loaded at start, when their static
# archives are installed (Debian's libstdc++-dev, libsqlite3-dev and zlib1g-dev ship them): the
# release link searches .build/static-libs first (Package.swift), and finds the archives here.
# Without one, the link finds the shared library, as a plain `swift build -c release` does.
static_libs=.build/static-libs
mkdir -p "$static_libs"
clang="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
missing=()
for archive in libstdc++.a libsqlite3.a libz.a; do
  found=$("$clang" -print-file-name="$archive" 2>/dev/null || true)
  if [ -f "$found" ]; then ln -sfn "$found" "$static_libs/$archive"; else rm -f "$static_libs/$archive"; missing+=("$archive"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "release.sh: no ${missing[*]} found (by $clang): the binary loads the shared libraries instead" >&2
fi
swift build "${flags[@]}"
touch "$bin/.function-sections"
