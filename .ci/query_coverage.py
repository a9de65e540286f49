#!/usr/bin/env python3
"""Which SQL texts in src/ PostgreSQL never ran.

Usage: query_coverage.py STATEMENTS_FILE [SRC_DIR]

STATEMENTS_FILE holds the statements PostgreSQL ran, as pg_stat_statements
recorded them (constants replaced by $N), separated by NUL bytes
(`.ci/postgres.sh statements DIR` writes it). Every string literal in
SRC_DIR's Rust files that is SQL (it starts with a statement's first word,
in capitals, or is a piece of a statement: FROM, WHERE, JOIN or VALUES with
SQL's punctuation) is reduced to a skeleton (lower case, no comments, no
whitespace, every constant and placeholder a `?`) and looked for inside the
skeletons of the statements that ran, as written and as `Db::text` spells
it for PostgreSQL; the `{…}` holes of a format string match anything. A
literal found in none is printed with its file and line.

Literals in the files' unit tests (which run on SQLite) are left out, and
those that only SQLite runs are counted apart (`sqlite_only` says how they
are told). Exit status 1 when any other literal never ran: a query of the
PostgreSQL backend that no test exercises.
"""
import os
import re
import sys

# Cafe writes SQL keywords in capitals, which keeps sentences out.
SQL_START = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|DROP|ALTER|LOCK|SET|TRUNCATE|LISTEN"
    r"|NOTIFY|VACUUM|ANALYZE|REINDEX|PRAGMA)\s")

# What only SQLite accepts, and `for_postgres` does not translate: a
# literal holding one of these is SQLite's.
SQLITE_SYNTAX = re.compile(
    r"PRAGMA|VACUUM INTO|total_changes\(\)|search_index\s*\(\s*search_index|INSERT OR "
    r"|\bMATCH\b|\browid\b|strftime|datetime\(", re.I)

# Files whose SQL is all SQLite's: the other backend's is in a module of
# its own (src/search/db/postgres.rs).
SQLITE_FILES = {"search/db/mod.rs"}

# A piece of a statement put together in code (its columns, a join, a
# filter): checked like a statement, when it has SQL's punctuation too
# (not a sentence such as "FROM and TO are the same database").
SQL_PIECE = re.compile(r"\b(FROM|WHERE|JOIN|VALUES)\b")

# A format string's hole (`{}`, `{name}`, `{0}`, `{COLUMNS}`).
HOLE = re.compile(r"\{[A-Za-z_0-9:.?]*\}")

# A Rust string literal: raw (r"…", r#"…"#) or normal ("…" with escapes).
LITERAL = re.compile(r'r(#*)"(.*?)"\1|"((?:[^"\\]|\\.)*)"', re.S)


def unescape(body):
    """A normal literal's text: line continuations and escapes undone."""
    body = re.sub(r"\\\n\s*", "", body)
    return (body.replace("\\n", "\n").replace("\\t", "\t")
            .replace('\\"', '"').replace("\\\\", "\\"))


def skeleton(sql):
    """SQL reduced so that a source text and its recorded form compare."""
    s = re.sub(r"--[^\n]*", " ", sql)
    s = re.sub(r"/\*.*?\*/", " ", s, flags=re.S)
    s = s.lower()
    s = re.sub(r"e?'(?:[^']|'')*'", "?", s)           # string constants
    s = re.sub(r"\$\d+|\?\d*", "?", s)                 # placeholders
    s = re.sub(r"(?<![a-z_0-9])\d+(?:\.\d+)?(?![a-z_0-9])", "?", s)  # numbers
    s = re.sub(r"\b(true|false|null)\b", "?", s)
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"-\?", "?", s)                          # -1 is one constant there
    return s


def for_postgres(sql):
    """What `Db::text` sends PostgreSQL for a statement written once for
    both (src/db/mod.rs, `for_postgres`): the same rewriting."""
    sql = sql.replace("json_object(", "json_build_object(").replace("json_array(", "json_build_array(")
    sql = re.sub(r"([A-Za-z0-9_.$]+) COLLATE NOCASE", r"lower(\1)", sql)
    return re.sub(r" INDEXED BY [A-Za-z0-9_]+", "", sql)


def pattern(sql):
    """A regex for a source literal: its skeleton, `{…}` holes matching
    anything (a hole inside a quoted constant goes with the constant)."""
    sql = re.sub(r"\$\{[A-Za-z_0-9]*\}", "$0", sql)  # `${k}`: a numbered placeholder
    pieces = skeleton(HOLE.sub("\x01", sql)).split("\x01")
    return re.compile("[^\\n]*?".join(re.escape(p) for p in pieces))


def literals(src):
    """(path, line, literal, file text, whether it is the `sqlite:` field of
    a `Sql` pair) for every SQL-like string literal under src."""
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for m in LITERAL.finditer(text):
                body = m.group(2) if m.group(2) is not None else unescape(m.group(3) or "")
                piece = SQL_PIECE.search(body) and re.search(r"[=(),.*]", body)
                if (SQL_START.match(body) or piece) and not in_tests(text, m.start()):
                    line = text.count("\n", 0, m.start()) + 1
                    sqlite_field = text[:m.start()].rstrip().endswith("sqlite:")
                    yield path, line, body, text, sqlite_field


def in_tests(text, offset):
    """Whether `offset` lies in the file's unit tests (`#[cfg(test)] mod
    tests`, at the end of the file by the project's habit): they run on
    SQLite in `cargo test`'s first pass."""
    start = re.search(r"#\[cfg\(test\)\]\s*mod tests", text)
    return start is not None and offset > start.start()


def sqlite_only(body, text, line):
    """Whether the literal is SQLite's alone: it holds syntax only SQLite
    accepts (the `sqlite:` half of a `Sql` pair is told apart where the
    literals are read); it sits in a `::Sqlite(` arm (the nearest arm above
    it within 30 lines names SQLite), in a function or a `const`/`static`
    whose name says sqlite, or after its function's
    `if let Db::Postgres(…) { return … }`."""
    if SQLITE_SYNTAX.search(body):
        return True
    lines = text.split("\n")
    for j in range(line - 1, max(-1, line - 31), -1):
        if re.search(r"::Sqlite\s*\(", lines[j]):
            return True
        if re.search(r"::Postgres\s*\(", lines[j]):
            break
    for j in range(line - 1, -1, -1):
        named = re.match(r"\s*(?:pub(?:\([a-z]+\))? )?(?:async )?(?:fn|const|static) (\w+)", lines[j])
        if re.match(r"\s*if let (?:crate::db::)?Db::Postgres\(", lines[j]) and any(
            "return" in l for l in lines[j + 1:j + 4]
        ):
            return True
        if named:
            return "sqlite" in named.group(1).lower()
    return False


def main():
    stmts_file = sys.argv[1]
    src = sys.argv[2] if len(sys.argv) > 2 else "src"
    with open(stmts_file, encoding="utf-8", errors="replace") as f:
        ran = {skeleton(s) for s in f.read().split("\0") if s.strip()}
    haystack = "\n".join(sorted(ran))
    total = missing = sqlite = 0
    for path, line, body, text, sqlite_field in literals(src):
        total += 1
        if any(pattern(spelled).search(haystack) for spelled in {body, for_postgres(body)}):
            continue
        sqlite_file = os.path.relpath(path, src) in SQLITE_FILES
        if sqlite_file or sqlite_field or sqlite_only(body, text, line):
            sqlite += 1
            continue
        missing += 1
        first = " ".join(body.split())[:110]
        print(f"{path}:{line}: {first}")
    print(f"{total} SQL literals in {src}; {total - missing - sqlite} ran on PostgreSQL, "
          f"{sqlite} are SQLite's alone, {missing} never ran")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
