#!/usr/bin/env python3
"""The order in which the release link lays out the functions that ran, from callgrind outputs.

Usage: symbol-order.py BINARY MAP FILE.cg... > symbol-order.txt

Each FILE.cg is one command's profile. A function's instructions are counted per command from
callgrind's compressed names (`fn=(id) name`, then `fn=(id)`): its own lines, not the ones
under `calls=` (its callees' inclusive costs), where its object (`ob=`) is BINARY. Names that
BINARY does not define as functions (callgrind's `0x…` for code without a symbol) are left out.

The linker moves input sections, not functions: MAP is the link map of BINARY (`--Map`,
`--no-demangle`), which lists every input section of `.text` with its size, alignment and the
functions in it. Most hold one function (the release build compiles every module with a
section per function), but the toolchain's static libraries hold some large ones: the
standard library's `Swift.o` is one 1.5 MiB section of 12 000 functions. A section is the
unit laid out; it is listed by one name that no other section defines (listing a name moves
every section that defines it), and left out when it has none.

The order keeps each command's code together. The kernel maps a file's pages in aligned 64 KiB
windows around each fault (fault-around), so a command's resident code is the number of
windows its functions touch — inside a large section, the windows of the functions it ran
there. Sections are sorted by which commands ran them: first those that the first command in a
priority list ran, among those the ones the second ran, and so on (a lexicographic order of
membership), hottest first within a group. The priority list is chosen greedily: at each step,
the command whose turn next leaves the fewest windows touched, summed over all commands, laid
out with the sections' sizes and alignments.
"""
import collections
import re
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
    # What each command ran, per section: the spans of its functions there.
    spans = collections.defaultdict(lambda: collections.defaultdict(set))  # section -> command -> spans
    total = collections.Counter()
    for command, path in enumerate(paths):
        for name, instructions in profile(path, binary.rsplit("/", 1)[-1]).items():
            places = defining.get(name, [])
            # A name several sections define: counted in each, when each holds that function
            # alone (`objectdestroyTm`, one per module); otherwise which one ran is unknown.
            if len(places) > 1 and any(len(units[index].functions) > 1 for index, _, _ in places):
                continue
            for index, offset, size in places:
                spans[index][command].add((offset, size))
                total[index] += instructions
    ran = {index: set(by_command) for index, by_command in spans.items()}

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
    listed = 0
    for index in order:
        names = [name for name, _, _ in units[index].functions]
        unique = next((name for name in names if len(defining[name]) == 1), None)
        if unique is None and len(names) == 1 and all(len(units[other].functions) == 1 for other, _, _ in defining[names[0]]):
            unique = names[0]
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
