#!/usr/bin/env python3
"""The functions of one binary that ran, from callgrind outputs, most instructions first.

Usage: symbol-order.py BINARY_NAME SHARED FILE.cg... > symbol-order.txt

Reads callgrind's compressed names (`fn=(id) name`, then `fn=(id)`), counts each function's own
instructions (not the lines under `calls=`, which are its callees' inclusive costs) where its
object (`ob=`) ends with BINARY_NAME, and prints the mangled names once each (a recursion level's
`'2` suffix dropped) — except those listed in the file SHARED: functions that share their
object's `.text` section with others (the linker moves sections, so naming one of them would
move all of its neighbours, cold ones included, to the front).
"""
import collections
import re
import sys

LINE = re.compile(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$")


def main():
    binary, shared, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(shared) as names:
        unmovable = {name.strip() for name in names}
    cost = collections.Counter()
    for path in paths:
        objects, functions = {}, {}
        current_object = current_function = None
        after_calls = False
        with open(path, errors="replace") as lines:
            for line in lines:
                match = LINE.match(line.rstrip("\n"))
                if match:
                    kind, ident, name = match.groups()
                    table = objects if kind.endswith("ob") else functions
                    if name is not None:
                        table[ident] = name
                    if kind == "ob":
                        current_object = objects.get(ident)
                    elif kind == "fn":
                        current_function = functions.get(ident)
                    continue
                if line[:1].isdigit() or line[:1] in "+-*":
                    fields = line.split()
                    if not after_calls and len(fields) >= 2 and current_function and (current_object or "").endswith(binary):
                        try:
                            cost[re.sub(r"'\d+$", "", current_function)] += int(fields[1])
                        except ValueError:
                            pass
                    after_calls = False
                    continue
                after_calls = line.startswith("calls=")
    for name, _ in cost.most_common():
        if name not in unmovable:
            print(name)


if __name__ == "__main__":
    main()
