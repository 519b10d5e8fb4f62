#!/usr/bin/env bash
# Formats the sources with the toolchain's swift-format (.swift-format), or checks them with --check.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--check" ]; then
  out=$(swift format lint --strict -r Sources Tests Package.swift 2>&1 || true)
  if [ -n "$out" ]; then
    echo "$out"
    echo "format check failed: run scripts/format.sh" >&2
    exit 1
  fi
  echo "format check: clean"
else
  swift format -i -r Sources Tests Package.swift
fi
