#!/usr/bin/env python3
"""The order in which the release link lays out the functions that ran, from callgrind outputs.

Usage: symbol-order.py BINARY SHARED FILE.cg... > symbol-order.txt

Each FILE.cg is one command's profile. A function's instructions are counted per command from
callgrind's compressed names (`fn=(id) name`, then `fn=(id)`): its own lines, not the ones
under `calls=` (its callees' inclusive costs), where its object (`ob=`) is BINARY. Names that
BINARY does not define as functions (callgrind's `0x…` for code without a symbol) are left out.

The order keeps each command's code together. The kernel maps a file's pages in aligned 64 KiB
windows around each fault (fault-around), so a command's resident code is the number of
windows its functions touch: the functions are sorted by which commands ran them — first those
that the first command in a priority list ran, among those the ones the second ran, and so on
(a lexicographic order of membership), hottest first within a group. The priority list is
chosen greedily: at each step, the command whose turn next leaves the fewest windows touched,
summed over all commands, laid out with the sizes `nm -S` gives.

The linker moves sections, and a name moves every section that defines it. A name in a section
that holds other functions too (the toolchain's static libraries compile many objects that way,
the standard library's among them: the file SHARED lists these names) moves that whole section
to its place: a name BINARY defines once is listed all the same, since the section is one a
command ran. A name several local functions share (`objectdestroyTm`, one per module) would
move all of them, and with them every shared section that defines one: it is listed only when
none of its sections is shared (the functions themselves are small, ~60 KiB in all).
"""
import collections
import re
import subprocess
import sys

LINE = re.compile(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$")
WINDOW = 16  # log2 of the fault-around window, 64 KiB


def profile(path, binary):
    """Instructions per function of `binary` in one callgrind output."""
    cost = collections.Counter()
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
    return cost


def main():
    binary, paths = sys.argv[1], sys.argv[3:]
    with open(sys.argv[2]) as names:
        shared = {name.strip() for name in names}
    sizes = collections.Counter()
    copies = collections.Counter()
    nm = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in "tTwW":
            sizes[fields[3]] += int(fields[1], 16)
            copies[fields[3]] += 1
    ran = collections.defaultdict(set)
    total = collections.Counter()
    for command, path in enumerate(paths):
        for name, instructions in profile(path, binary.rsplit("/", 1)[-1]).items():
            if name in sizes and (copies[name] == 1 or name not in shared):
                ran[name].add(command)
                total[name] += instructions

    def layout(priority):
        return sorted(ran, key=lambda name: (tuple(command not in ran[name] for command in priority), -total[name], name))

    def windows(order):
        touched = [set() for _ in paths]
        address = 0
        for name in order:
            start = (address + 15) & ~15
            address = start + sizes[name]
            for window in range(start >> WINDOW, ((max(address, start + 1) - 1) >> WINDOW) + 1):
                for command in ran[name]:
                    touched[command].add(window)
        return sum(len(windows) for windows in touched)

    priority, rest = [], list(range(len(paths)))
    while rest:
        best = min(rest, key=lambda command: windows(layout(priority + [command] + [r for r in rest if r != command])))
        priority.append(best)
        rest.remove(best)
    order = layout(priority)
    print(f"{len(order)} functions, {sum(sizes[name] for name in order) / 1048576:.1f} MiB; "
          f"{windows(order) * 64} KiB of code touched by the {len(paths)} commands in all (estimated)", file=sys.stderr)
    for name in order:
        print(name)


if __name__ == "__main__":
    main()
