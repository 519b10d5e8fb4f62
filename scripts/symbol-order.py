#!/usr/bin/env python3
"""The order in which the release link lays out the functions that ran, from callgrind outputs.

Usage: symbol-order.py BINARY MAP FILE.cg... > symbol-order.txt

Each FILE.cg is one command's profile of BINARY, taken with `--dump-instr=yes
--compress-pos=no`: what ran is found by the addresses of the instructions, each in the
section of MAP that holds it (names would not do: a module's copy of a specialization can have
the name of one in the standard library, and every module has an `objectdestroyTm`).

The linker moves input sections, not functions: MAP is the link map of BINARY (`--Map`,
`--no-demangle`), which lists every input section of `.text` with its size, alignment and the
functions in it. Most hold one function (the release build compiles every module with a
section per function), but the toolchain's static libraries hold some large ones: the
standard library's `Swift.o` is one 1.5 MiB section of 12 000 functions. A section is the
unit laid out; it is listed by one name that no other section defines (listing a name moves
every section that defines it), or else by one whose other sections are listed too or are small
single functions, and left out when it has neither.

The order keeps each command's code together. The kernel maps a file's pages in aligned 64 KiB
windows around each fault (fault-around), so a command's resident code is the number of
windows its functions touch — inside a large section, the windows of the functions it ran
there. Sections are sorted by which commands ran them: first those that the first command in a
priority list ran, among those the ones the second ran, and so on (a lexicographic order of
membership), hottest first within a group. The priority list is chosen greedily: at each step,
the command whose turn next leaves the fewest windows touched, summed over all commands, laid
out with the sections' sizes and alignments.
"""
import bisect
import collections
import re
import sys

LINE = re.compile(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$")
WINDOW = 16  # log2 of the fault-around window, 64 KiB


def profile(path, binary):
    """Instructions per address of `binary` in one callgrind output (`--dump-instr=yes
    --compress-pos=no`: every cost line starts with its instruction's address): its functions'
    own lines, not the ones after `calls=` (a callee's inclusive cost)."""
    cost = collections.Counter()
    objects = {}
    current_object = None
    positions = 1
    after_calls = False
    with open(path, errors="replace") as lines:
        for line in lines:
            if line.startswith("positions:"):
                positions = len(line.split()) - 1
                continue
            match = LINE.match(line.rstrip("\n"))
            if match:
                kind, ident, name = match.groups()
                if kind == "ob":
                    if name is not None:
                        objects[ident] = name
                    current_object = objects.get(ident)
                elif kind == "cob" and name is not None:
                    objects[ident] = name
                continue
            if line.startswith("0x"):
                fields = line.split()
                if not after_calls and len(fields) > positions and (current_object or "").endswith(binary):
                    try:
                        cost[int(fields[0], 16)] += int(fields[positions])
                    except ValueError:
                        pass
                after_calls = False
                continue
            after_calls = line.startswith("calls=")
    return cost


MAP_LINE = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+(\d+) (\s*)(.*)$")


class Section:
    """An input section of `.text`: its size, alignment and functions (name, offset, size)."""

    def __init__(self, name, address, size, align):
        self.name, self.address, self.size, self.align = name, address, size, align
        self.functions = []


def sections(path):
    """The input sections of `.text` in a link map, in the map's order."""
    found, current, in_text = [], None, False
    with open(path, errors="replace") as lines:
        for line in lines:
            match = MAP_LINE.match(line.rstrip("\n"))
            if not match:
                continue
            address, size, align = int(match.group(1), 16), int(match.group(2), 16), int(match.group(3))
            indent, text = len(match.group(4)), match.group(5)
            if indent == 0:
                in_text, current = text == ".text", None
            elif in_text and indent == 8:
                current = Section(text, address, size, align)
                found.append(current)
            elif in_text and current is not None and indent == 16:
                current.functions.append([text, address - current.address, 0])
    for section in found:
        ends = [offset for _, offset, _ in section.functions[1:]] + [section.size]
        for function, end in zip(section.functions, ends):
            function[2] = max(end - function[1], 1)
    return found


def main():
    binary, map_path, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    units = sections(map_path)
    defining = collections.defaultdict(list)  # name -> [(section index, offset, size)]
    for index, section in enumerate(units):
        for name, offset, size in section.functions:
            defining[name].append((index, offset, size))
    # What each command ran, per section: the spans of its functions there, found by address
    # (a name can be several functions: a module's copy of a specialization the standard
    # library's `Swift.o` holds too, or one `objectdestroyTm` per module).
    starts = [section.address for section in units]
    offsets = [[offset for _, offset, _ in section.functions] for section in units]
    spans = collections.defaultdict(lambda: collections.defaultdict(set))  # section -> command -> spans
    total = collections.Counter()
    for command, path in enumerate(paths):
        for address, instructions in profile(path, binary.rsplit("/", 1)[-1]).items():
            index = bisect.bisect_right(starts, address) - 1
            if index < 0 or address >= units[index].address + units[index].size:
                continue
            section = units[index]
            at = bisect.bisect_right(offsets[index], address - section.address) - 1
            if at < 0:
                spans[index][command].add((address - section.address, 1))
            else:
                spans[index][command].add(tuple(section.functions[at][1:]))
            total[index] += instructions
    # A section without a name (`.text..L…`: the compiler's unnamed functions) cannot be listed;
    # scripts/text-layout.ld puts them all first.
    ran = {index: set(by_command) for index, by_command in spans.items() if units[index].functions}

    def layout(priority):
        return sorted(ran, key=lambda index: (tuple(command not in ran[index] for command in priority), -total[index], index))

    def windows(order):
        touched = [set() for _ in paths]
        address = 0
        for index in order:
            section = units[index]
            align = max(section.align, 1)
            start = (address + align - 1) // align * align
            address = start + section.size
            for command, functions in spans[index].items():
                for offset, size in functions:
                    first = (start + offset) >> WINDOW
                    last = (start + offset + size - 1) >> WINDOW
                    touched[command].update(range(first, last + 1))
        return [len(windows) for windows in touched]

    priority, rest = [], list(range(len(paths)))
    while rest:
        best = min(rest, key=lambda command: sum(windows(layout(priority + [command] + [r for r in rest if r != command]))))
        priority.append(best)
        rest.remove(best)
    order = layout(priority)
    # Each section by a name no other section defines, or else by one that only moves
    # sections that are listed too or are single small functions.
    listed = 0
    for index in order:
        names = [name for name, _, _ in units[index].functions]
        unique = next((name for name in names if len(defining[name]) == 1), None)
        if unique is None:
            unique = next((name for name in names if all(
                other in ran or (len(units[other].functions) == 1 and units[other].size <= 4096)
                for other, _, _ in defining[name])), None)
        if unique is not None:
            print(unique)
            listed += 1
    per_command = windows(order)
    print(f"{listed} sections, {sum(units[index].size for index in order) / 1048576:.1f} MiB; "
          f"{sum(per_command) * 64} KiB of code touched by the {len(paths)} commands in all (estimated); "
          f"per command (KiB): {', '.join(f'{paths[c].rsplit(chr(47), 1)[-1]} {per_command[c] * 64}' for c in range(len(paths)))}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
