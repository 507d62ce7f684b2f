#!/usr/bin/env python3
"""The header check of `make test` (CTest lint_headers): every public function declared in
include/mdp/*.h has a doc comment that says what it returns and, where memory changes hands, who
owns it. The convention, checked line by line:

1. A comment (/* ... */) ends on the line directly above the declaration.
2. A function that returns a value (anything but plain `void`) says so: the comment contains
   "return" (Returns 0 or MDP_ERR_NOMEM, Returns the text, 1 if ... else 0 -> "Returns 1 if").
3. A function that returns a pointer, or takes a pointer-to-pointer or a struct out_* parameter
   (which may come back holding memory), names the owner: the comment contains one of "free", "owned", "owns", "borrowed", "static", "copied",
   "caller's", "lifetime" (caller frees it with free(), borrowed from h, a static string, ...).

Usage: check-headers.py [--pending LIST] [DIR or FILE ...] (default: include/mdp). Prints
file:line: function: what is missing, and exits 1 when anything is, 0 when every declaration
passes. LIST names headers (one base name a line, # comments) not yet brought to the convention:
their problems are printed but do not fail the check, and a listed header that passes fails it
("take it off the list"), so the list only ever shrinks.
"""
import os
import re
import sys

OWNER_WORDS = ("free", "owned", "owns", "borrowed", "static", "copied", "caller's", "lifetime")
DECL_RE = re.compile(r"^(?P<ret>[A-Za-z_][\w\s\*]*?[\s\*])(?P<name>[A-Za-z_]\w*)\s*\((?P<args>.*)\)",
                     re.S)
SKIP_START = ("typedef", "#", "extern \"C\"", "static ")


def strip_comments(text):
    """The text with comments and string contents blanked, keeping line breaks and offsets."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('"' + " " * (min(j, n) - i - 1) + '"')
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def comments_ending(text):
    """Line number (1-based) where each comment ends -> the comment's text."""
    ends = {}
    for m in re.finditer(r"/\*.*?\*/", text, re.S):
        line = text.count("\n", 0, m.end()) + 1
        ends[line] = m.group(0)
    return ends


def declarations(text):
    """(line, name, declaration text) of every function declared at file scope."""
    code = strip_comments(text)
    lines = code.split("\n")
    depth, stmt, start = 0, "", None
    in_macro = False
    for no, line in enumerate(lines, 1):
        s = line.strip()
        if in_macro or (depth == 0 and not stmt and s.startswith("#")):
            in_macro = line.rstrip().endswith("\\")
            continue
        for ch in line:
            if ch == "{":
                depth += 1
                stmt = ""
                start = None
            elif ch == "}":
                depth -= 1
            elif depth == 0:
                if ch == ";":
                    if start is not None:
                        yield start, stmt.strip()
                    stmt, start = "", None
                else:
                    if start is None and not ch.isspace():
                        start = no
                    if start is not None:
                        stmt += ch
        if depth == 0 and start is not None:
            stmt += "\n"


def check_file(path):
    text = open(path, encoding="utf-8").read()
    ends = comments_ending(text)
    problems = []
    for line, stmt in declarations(text):
        if stmt.startswith(SKIP_START) or "(" not in stmt:
            continue
        flat = " ".join(stmt.split())
        flat = re.sub(r"__attribute__\s*\(\(.*\)\)\s*$", "", flat).strip()
        m = DECL_RE.match(flat)
        if not m or m.group("ret").strip() in ("", "return") or "(*" in flat.split("(")[0] + "(":
            continue
        name, ret, args = m.group("name"), " ".join(m.group("ret").split()), m.group("args")
        where = "%s:%d: %s" % (path, line, name)
        doc = ends.get(line - 1)
        if doc is None:
            problems.append(where + ": no doc comment directly above the declaration")
            continue
        low = doc.lower()
        if ret != "void" and "return" not in low:
            problems.append(where + ": the doc comment does not say what it returns")
        hands_memory = ret.endswith("*") or "**" in args or re.search(r"\bstruct\s+\w+\s*\*\s*out_", args)
        if hands_memory and not any(w in low for w in OWNER_WORDS):
            problems.append(where + ": pointers change hands but the doc comment names no owner "
                            "(free / owned / borrowed / static / copied)")
    return problems


def read_pending(path):
    names = set()
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line)
    return names


def main(argv):
    args = argv[1:]
    pending = set()
    if args[:1] == ["--pending"]:
        pending = read_pending(args[1])
        args = args[2:]
    targets = args or [os.path.join(os.path.dirname(__file__), "..", "include", "mdp")]
    files = []
    for t in targets:
        if os.path.isdir(t):
            files += sorted(os.path.join(t, f) for f in os.listdir(t) if f.endswith(".h"))
        else:
            files.append(t)
    problems, waived, pending_ok = [], [], []
    for f in files:
        found = check_file(f)
        if os.path.basename(f) in pending:
            waived += found
            if not found:
                pending_ok.append(os.path.basename(f))
        else:
            problems += found
    for p in waived:
        print("pending: " + p)
    for p in problems:
        print(p)
    for name in pending_ok:
        print("%s passes now: take it off the pending list" % name)
    failed = sorted({os.path.basename(p.split(":")[0]) for p in problems})
    print("check-headers: %d files, %d problems%s; %d pending in %d listed headers" %
          (len(files), len(problems), (" in " + ", ".join(failed)) if failed else "",
           len(waived), len(pending)))
    return 1 if problems or pending_ok else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
