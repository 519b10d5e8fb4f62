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
swift build "${flags[@]}"
touch "$bin/.function-sections"
