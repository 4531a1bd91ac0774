#!/usr/bin/env python3
"""Checks the code's shape: no source file over 600 lines (test code aside)
and no import cycle between the files of a crate.

A file's test code is a `#[cfg(test)] mod tests { ... }` block at its end, or
the whole file when it is a test module (`tests.rs`, `*_tests.rs`, a
`tests/` folder). An import is any path from one module of a crate to
another (`crate::a::b`, `super::x`, `self::y`, or a child module's name),
resolved to the file that defines the module.
"""
import re
import sys
from pathlib import Path

MAX_LINES = 600
CRATES = ["src", "host-harness/src", "host-harness/host/src", "host-harness/sandbox/src"]


def is_test_file(path: Path) -> bool:
    return path.name == "tests.rs" or path.name.endswith("_tests.rs") or "tests" in path.parts[:-1]


def strip(text: str) -> str:
    """Drops comments and string contents (roughly), keeping line structure."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', lambda m: '""' + "\n" * m.group(0).count("\n"), text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', lambda m: '""' + "\n" * m.group(0).count("\n"), text)
    return text


def code_lines(text: str) -> int:
    """Lines before the file's trailing `#[cfg(test)] mod ... {` block."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "#[cfg(test)]" and i + 1 < len(lines) and re.match(r"\s*mod \w+ \{", lines[i + 1]):
            return i
    return len(lines)


def module_of(root: Path, path: Path) -> tuple:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def expand_use(tree: str) -> list:
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix: str, s: str):
        i = s.find("{")
        if i < 0:
            out.append(prefix + s)
            return
        head, body = s[:i], s[i + 1 : s.rfind("}")]
        depth, start, items = 0, 0, []
        for j, ch in enumerate(body):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(body[start:j])
                start = j + 1
        items.append(body[start:])
        for item in items:
            if item:
                walk(prefix + head, item)

    walk("", tree)
    return out


def check_crate(root: Path, problems: list):
    # A binary's main.rs next to a lib.rs is a crate of its own.
    has_lib = (root / "lib.rs").exists()
    files = {
        module_of(root, p): p
        for p in root.rglob("*.rs")
        if not (has_lib and p == root / "main.rs")
    }
    modules = set(files)
    edges = {m: set() for m in modules}
    for module, path in files.items():
        if is_test_file(path):
            continue
        text = path.read_text()
        code = strip("\n".join(text.splitlines()[: code_lines(text)]))
        # `mod x;` in a file makes x a child; references to it are imports.
        children = set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod (\w+);", code, flags=re.M))
        paths = []
        for tree in re.findall(r"\buse\s+([^;]+);", code):
            paths.extend(expand_use(tree))
        paths.extend(re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", code))
        for p in paths:
            segs = p.split("::")
            if segs[0] == "crate":
                base, rest = (), segs[1:]
            elif segs[0] == "self":
                base, rest = module, segs[1:]
            elif segs[0] == "super":
                ups = len(segs) - len([x for x in segs if x != "super"])
                rest = [x for x in segs if x != "super"]
                base = module[: max(len(module) - ups, 0)]
            elif segs[0] in children:
                base, rest = module, segs
            else:
                continue
            target = base
            for seg in rest:
                if target + (seg,) in modules:
                    target = target + (seg,)
                else:
                    break
            if target != module and not is_test_file(files[target]):
                edges[module].add(target)
    # Tarjan's strongly connected components.
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    for comp in comps:
        names = sorted(str(files[m].relative_to(root)) for m in comp)
        detail = []
        for m in comp:
            for w in edges[m]:
                if w in comp:
                    detail.append(f"{files[m]} -> {files[w]}")
        problems.append(f"import cycle in {root}: " + ", ".join(names) + "\n    " + "\n    ".join(sorted(detail)))


def main() -> int:
    repo = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
    problems = []
    for crate in CRATES:
        root = repo / crate
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.rs")):
            if is_test_file(path):
                continue
            n = code_lines(path.read_text())
            if n > MAX_LINES:
                problems.append(f"{path}: {n} lines of non-test code (at most {MAX_LINES})")
        check_crate(root, problems)
    for p in problems:
        print(p)
    print(f"shape: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
