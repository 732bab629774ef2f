#!/usr/bin/python3
"""commands.py: every external command that the project's shell scripts call
(tests, benches, examples, the install scripts) must come from a Debian
package that a fresh Debian 12 has (Essential or Priority: required, as in a
minbase root) or that make deps / make deps-test installs (DEPS_PKGS in the
environment), as named in tests/commands.tsv. Also: awk programs use nothing
that mawk lacks, and the Python that scripts run imports only what Debian's
python3 and the listed packages provide.

  commands.py scan [FILE...]   the commands found, one "file:line command" a line
  commands.py check [FILE...]  exit 1 with one line per problem
Without FILEs, the project's scripts. DEPS_PKGS names the packages that make
deps-test installs (their commands must be installed), DEPS_BENCH_PKGS those
that only make deps-bench installs (checked where installed).
The scanner is a small shell tokenizer: it finds the word in command position
of each simple command (after wrappers such as run, timeout, xargs, ip netns
exec, bash -c '...'), not every word; heredoc bodies are not read.
"""
import functools
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(ROOT, "tests", "commands.tsv")

SHELL_GLOBS = [
    ".ci/run", "setup.sh", "tests/deps-install", "tests/fresh-host", "tests/valgrind-adaptfs",
    "etc/adaptfs-mkinitrd", "debian/adaptfs.postrm",
]
SHELL_DIRS = [("tests/bats", (".bats", ".bash", "")), ("tests/v2", (".bats", ".bash", "")), ("bench", (".sh",)), ("etc/examples", (".sh",))]
PYTHON_DIRS = ["tests", "bench"]

KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in",
            "case", "esac", "function", "select", "time", "!", "{", "}", "[[", "]]", "coproc"}
BUILTINS = set("""
    . : [ alias bg bind break builtin caller cd command compgen complete compopt continue
    declare dirs disown echo enable eval exec exit export false fc fg getopts hash help history
    jobs kill let local logout mapfile popd printf pushd pwd read readarray readonly return set
    shift shopt source suspend test times trap true type typeset ulimit umask unalias unset wait
""".split())
# bats-core, bats-support and bats-assert functions.
BATS_FUNCS = set("""
    run load bats_load_library skip setup setup_file teardown teardown_file assert refute
    assert_equal assert_not_equal assert_success assert_failure assert_output refute_output
    assert_line refute_line assert_regex refute_regex fail batslib_err batslib_count_lines
    assert_file_exist bats_require_minimum_version
""".split())
# Wrappers whose argument after their options is itself a command; the
# options listed take a value.
WRAPPERS = {
    "run": set(), "exec": {"-a"}, "command": set(), "nohup": set(), "setsid": set(),
    "sudo": {"-u", "-g"}, "env": {"-u", "-C"}, "nice": {"-n"}, "ionice": {"-c", "-n"},
    "timeout": {"-s", "-k", "--signal", "--kill-after"}, "stdbuf": set(),
    "xargs": {"-n", "-I", "-P", "-d", "-L", "-s", "-a", "-E"}, "taskset": set(),
    "chrt": set(), "unshare": {"--propagation", "--setgroups", "-S", "-G", "--root", "--wd"},
    "nsenter": {"-t", "--target", "-n", "-m", "-p"}, "flock": {"-w", "-E"},
    "wait_for": {"-t"}, "strace": {"-o", "-e", "-p", "-s", "-P", "-a"}, "systemd-run": {"-p"},
    "chroot": set(), "watch": {"-n"}, "valgrind": set(), "perf": set(), "hyperfine": set(),
}
GAWK_ONLY = [
    (re.compile(r"\bgensub\s*\("), "gensub()"), (re.compile(r"\bstrftime\s*\("), "strftime()"),
    (re.compile(r"\bsystime\s*\("), "systime()"), (re.compile(r"\bmktime\s*\("), "mktime()"),
    (re.compile(r"\basorti?\s*\("), "asort()"), (re.compile(r"\bPROCINFO\b"), "PROCINFO"),
    (re.compile(r"\bRT\b"), "RT"), (re.compile(r"\bFPAT\b"), "FPAT"),
    (re.compile(r"\bIGNORECASE\b"), "IGNORECASE"),
    (re.compile(r"/[^/\n]*[^\\/\n$]\{[0-9]+(,[0-9]*)?\}[^/\n]*/"), "a {n} interval in a regex"),
    (re.compile(r"\bmatch\s*\([^)]*,[^)]*,"), "match() with an array"),
]


def shell_files():
    files = [f for f in SHELL_GLOBS if os.path.exists(os.path.join(ROOT, f))]
    for top, exts in SHELL_DIRS:
        for d, _, names in os.walk(os.path.join(ROOT, top)):
            for n in sorted(names):
                p = os.path.join(d, n)
                if n.endswith(tuple(e for e in exts if e)) or ("" in exts and is_shell_script(p)):
                    files.append(os.path.relpath(p, ROOT))
    return sorted(set(files))


def is_shell_script(path):
    try:
        with open(path, "rb") as f:
            first = f.readline()
    except OSError:
        return False
    return first.startswith(b"#!") and (b"sh" in first.split(b"/")[-1] or b"bash" in first)


class Token:
    def __init__(self, kind, text, line):
        self.kind, self.text, self.line = kind, text, line  # kind: word | op | nl


def tokenize(src, line0, subs):
    """Tokens of shell source src; the contents of $(...), `...` and of
    double-quoted $(...) go to subs as (text, line) for a scan of their own."""
    toks, i, n, line = [], 0, len(src), line0
    heredocs = []
    while i < n:
        c = src[i]
        if c == "\n":
            toks.append(Token("nl", "\n", line))
            line += 1
            i += 1
            for delim, strip in heredocs:  # skip heredoc bodies
                while i < n:
                    j = src.find("\n", i)
                    j = n if j < 0 else j
                    body = src[i:j]
                    line += 1
                    i = j + 1
                    if (body.lstrip("\t") if strip else body) == delim:
                        break
            heredocs = []
            continue
        if c in " \t":
            i += 1
            continue
        if c == "\\" and i + 1 < n and src[i + 1] == "\n":
            line += 1
            i += 2
            continue
        if c == "#":
            while i < n and src[i] != "\n":
                i += 1
            continue
        m = re.match(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2", src[i:])
        if m:
            heredocs.append((m.group(3), m.group(1) == "-"))
            i += m.end()
            continue
        if src.startswith("((", i):  # arithmetic: no commands inside
            k = src.find("))", i)
            k = n - 2 if k < 0 else k
            line += src.count("\n", i, k)
            toks.append(Token("word", "((arith))", line))
            i = k + 2
            continue
        m = re.match(r"(;;|&&|\|\||\|&|[;&|(){}]|[0-9]*(>>|>&|<&|<<<|&>|>|<)[0-9-]*)", src[i:])
        if m and not (c in "{}" and i + 1 < n and src[i + 1] not in " \t\n;"):
            toks.append(Token("op", m.group(0), line))
            i += m.end()
            continue
        # a word: up to unquoted blank or operator
        start, startline, word = i, line, []
        while i < n:
            c = src[i]
            if c in " \t\n;&|()<>":
                break
            if c == "\\" and i + 1 < n:
                if src[i + 1] == "\n":
                    line += 1
                word.append(src[i:i + 2])
                i += 2
                continue
            if c == "'":
                j = src.find("'", i + 1)
                j = n - 1 if j < 0 else j
                line += src.count("\n", i, j)
                word.append(src[i:j + 1])
                i = j + 1
                continue
            if c == '"':
                j = i + 1
                while j < n and src[j] != '"':
                    if src[j] == "\\":
                        j += 1
                    elif src.startswith("$(", j) and not src.startswith("$((", j):
                        k = matching_paren(src, j + 1)
                        subs.append((src[j + 2:k], line + src.count("\n", i, j)))
                        j = k
                    j += 1
                line += src.count("\n", i, j)
                word.append(src[i:j + 1])
                i = j + 1
                continue
            if src.startswith("$((", i):
                j = src.find("))", i)
                j = n - 2 if j < 0 else j
                line += src.count("\n", i, j)
                word.append(src[i:j + 2])
                i = j + 2
                continue
            if src.startswith("$(", i) or src.startswith("<(", i) or src.startswith(">(", i):
                k = matching_paren(src, i + 1)
                subs.append((src[i + 2:k], line))
                line += src.count("\n", i, k)
                word.append("$(...)")
                i = k + 1
                continue
            if c == "`":
                j = src.find("`", i + 1)
                j = n - 1 if j < 0 else j
                subs.append((src[i + 1:j], line))
                line += src.count("\n", i, j)
                word.append("$(...)")
                i = j + 1
                continue
            if src.startswith("${", i):
                j = matching_close(src, i + 1, "{", "}", subs, line)
                line += src.count("\n", i, j)
                word.append(src[i:j + 1])
                i = j + 1
                continue
            m = re.match(r"[A-Za-z_][A-Za-z0-9_]*\+?=\(", src[i:]) if not word else None
            if m:  # an array assignment: its words are no commands
                j = matching_close(src, i + m.end() - 1, "(", ")", subs, line)
                line += src.count("\n", i, j)
                word.append(src[i:j + 1])
                i = j + 1
                continue
            word.append(c)
            i += 1
        if i == start:  # an operator character that matched nothing above
            toks.append(Token("op", src[i], line))
            i += 1
            continue
        toks.append(Token("word", "".join(word), startline))
    return toks


def matching_paren(src, i):
    """Index of the ')' closing the '(' at src[i], skipping quotes."""
    return matching_close(src, i, "(", ")", [], 0)


def matching_close(src, i, opening, closing, subs, line):
    """Index of the closing character for the opening one at src[i],
    skipping quoted text; command substitutions met go to subs."""
    depth, n, start = 0, len(src), i
    while i < n:
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "'" and opening == "(":
            j = src.find("'", i + 1)
            i = (n if j < 0 else j) + 1
            continue
        if c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            continue
        if opening == "{" and src.startswith("$(", i):
            k = matching_paren(src, i + 1)
            subs.append((src[i + 2:k], line + src.count("\n", start, i)))
            i = k + 1
            continue
        if c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return n - 1


def unquote(w):
    out, i = [], 0
    while i < len(w):
        c = w[i]
        if c == "\\" and i + 1 < len(w):
            out.append(w[i + 1])
            i += 2
        elif c in "'\"":
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def commands(src, line0=1):
    """(line, command word, argument words) of each simple command in src."""
    subs, found = [], []
    toks = tokenize(src, line0, subs)
    i, n = 0, len(toks)
    start = True
    in_case = 0
    while i < n:
        t = toks[i]
        if t.kind in ("nl", "op"):
            if re.match(r"[0-9]*(>>|>&|<&|&>|>|<)", t.text):
                i += 2  # a redirection and its target
                continue
            start = True
            i += 1
            continue
        if not start:
            i += 1
            continue
        w = t.text
        if w in ("[[", "(("):
            close = "]]" if w == "[[" else "))"
            while i < n and not (toks[i].kind == "word" and toks[i].text.endswith(close)):
                i += 1
            i += 1
            start = False
            continue
        if w.startswith("((") or w.startswith("$(("):
            i += 1
            start = False
            continue
        if w == "case":
            in_case += 1
            while i < n and toks[i].text != "in":
                i += 1
            i += 1
            start = True
            continue
        if w == "esac":
            in_case -= 1
            i += 1
            continue
        if in_case and case_pattern_ahead(toks, i):
            while i < n and toks[i].text != ")":
                i += 1
            i += 1
            start = True
            continue
        if w in ("for", "select"):
            while i < n and toks[i].kind != "nl" and toks[i].text not in (";",):
                i += 1
            continue
        if w == "coproc" and i + 2 < n and toks[i + 2].text == "{":
            i += 2  # coproc NAME { ... }: NAME is no command
            continue
        if w in KEYWORDS:
            i += 1
            continue
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=", w):
            i += 1  # an assignment before the command
            continue
        # function definition: NAME ( )
        if i + 2 < n and toks[i + 1].text == "(" and toks[i + 2].text == ")":
            i += 3
            start = True
            continue
        args = []
        j = i + 1
        while j < n and toks[j].kind == "word":
            args.append(toks[j].text)
            j += 1
        found.append((t.line, w, args))
        for inner_line, inner in wrapped(w, args, t.line):
            for sub in commands(inner, inner_line):
                found.append(sub)
        i = j
        start = False
    for text, line in subs:
        found.extend(commands(text, line))
    return found


def case_pattern_ahead(toks, i):
    j = i
    while j < len(toks) and toks[j].kind != "nl" and toks[j].text not in (";", ";;", "("):
        if toks[j].text == ")":
            return True
        j += 1
    return False


def wrapped(cmd, args, line):
    """Command strings that cmd runs: the command after a wrapper's options,
    or the script of sh -c / bash -c."""
    name = os.path.basename(unquote(cmd))
    if name in ("sh", "bash", "su") and "-c" in args:
        k = args.index("-c")
        if k + 1 < len(args):
            yield line, unquote_script(args[k + 1])
        return
    if name == "ip" and len(args) >= 3 and args[:2] == ["netns", "exec"]:
        yield line, " ".join(args[3:])
        return
    if name not in WRAPPERS:
        return
    takes_value = WRAPPERS[name]
    # the duration, the CPU mask or list, the new root, the lock file
    positional = 1 if name in ("timeout", "taskset", "chroot", "flock") else 0
    k = 0
    while k < len(args):
        a = args[k]
        if a == "--":
            k += 1
            break
        if a.startswith("-") or a == "!":
            k += 2 if a in takes_value else 1
            continue
        if positional:
            positional -= 1
            k += 1
            continue
        if name in ("env", "sudo") and "=" in a:
            k += 1
            continue
        break
    if k < len(args):
        yield line, " ".join(args[k:])


def unquote_script(w):
    if len(w) >= 2 and w[0] == w[-1] and w[0] in "'\"":
        return w[1:-1]
    return unquote(w)


def defined_functions(texts):
    names = set()
    for text in texts:
        for m in re.finditer(r"^\s*(?:function\s+)?([A-Za-z_][A-Za-z0-9_:-]*)\s*\(\)", text, re.M):
            names.add(m.group(1))
    return names


def command_name(word):
    """The name to look up for a command word, or None for words that are
    not external commands of the system (variables, the project's paths)."""
    if "$" in word or "`" in word:
        return None
    w = unquote(word)
    if not w or w.startswith(("./", "../", "-")) or w in BUILTINS or w in KEYWORDS or w in BATS_FUNCS:
        return None
    if "/" in w:
        if re.match(r"^/(usr/)?s?bin/[^/]+$", w):
            return os.path.basename(w)
        return w if w.startswith("/usr/") or w.startswith("/sbin") or w.startswith("/bin") else None
    if not re.match(r"^[A-Za-z0-9_.+-]+$", w) or w.isdigit():
        return None
    return w


def awk_programs(found):
    for line, cmd, args in found:
        if command_name(cmd) not in ("awk", "mawk"):
            continue
        k = 0
        while k < len(args):
            a = args[k]
            if a in ("-F", "-v", "-f"):
                k += 2
            elif a.startswith("-"):
                k += 1
            else:
                yield line, unquote_script(a)
                break


def load_table():
    table = {}
    with open(TABLE) as f:
        for n, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                sys.exit(f"{TABLE}:{n}: want COMMAND PACKAGE")
            table[parts[0]] = parts[1]
    return table


def scan(files):
    per_file = {}
    for rel in files:
        with open(os.path.join(ROOT, rel), errors="replace") as f:
            per_file[rel] = f.read()
    funcs = defined_functions(per_file.values())
    result = []
    for rel, text in per_file.items():
        found = commands(text)
        for line, cmd, _ in found:
            name = command_name(cmd)
            if name and name not in funcs:
                result.append((rel, line, name))
        for line, prog in awk_programs(found):
            for rx, what in GAWK_ONLY:
                if rx.search(prog):
                    result.append((rel, line, "awk-gawk-only:" + what))
    return result


def python_imports():
    mods = {}
    for top in PYTHON_DIRS:
        for d, _, names in os.walk(os.path.join(ROOT, top)):
            for n in names:
                if not n.endswith(".py"):
                    continue
                p = os.path.join(d, n)
                local = {x[:-3] for x in os.listdir(d) if x.endswith(".py")}
                with open(p) as f:
                    for k, line in enumerate(f, 1):
                        m = re.match(r"\s*(?:import\s+([\w.]+)|from\s+([\w.]+)\s+import)", line)
                        if m:
                            mod = (m.group(1) or m.group(2)).split(".")[0]
                            if mod and mod not in local:
                                mods.setdefault(mod, f"{os.path.relpath(p, ROOT)}:{k}")
    return mods


def package_closure(pkgs):
    """Every package that installing pkgs without Recommends brings."""
    out = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                          "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] + pkgs,
                         capture_output=True, text=True).stdout
    names = set(pkgs)
    for line in out.splitlines():
        line = line.strip()
        if line.startswith(("Depends:", "PreDepends:")):
            names.add(line.split(":", 1)[1].strip().strip("<>").split(":")[0])
        elif line and not line.startswith("|") and ":" not in line:
            names.add(line.strip("<>"))
    return names


@functools.lru_cache(maxsize=None)
def is_base(pkg):
    out = subprocess.run(["apt-cache", "show", "--no-all-versions", pkg], capture_output=True,
                         text=True).stdout
    return bool(re.search(r"^(Essential: yes|Priority: required)$", out, re.M))


# Where a fresh Debian looks (not a developer's ~/.pyenv or /usr/local).
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def owner_ok(cmd, pkg):
    path = shutil.which(cmd, path=SYSTEM_PATH) if "/" not in cmd else cmd
    if not path or not os.path.exists(path):
        return f"'{cmd}' is not installed here: {pkg} should provide it once make deps-test ran"
    candidates = {path, os.path.realpath(path)}
    link = os.readlink(path) if os.path.islink(path) else ""
    if link.startswith("/etc/alternatives/"):  # awk: mawk's or gawk's, either will do
        alts = subprocess.run(["update-alternatives", "--list", os.path.basename(link)],
                              capture_output=True, text=True).stdout.split()
        candidates.update(alts)
    for p in list(candidates):
        if p.startswith("/usr/"):
            candidates.add(p[4:])
        else:
            candidates.add("/usr" + p)
    owners = set()
    for p in candidates:
        out = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True).stdout
        for line in out.splitlines():
            owners.update(o.strip().split(":")[0] for o in line.split(": ", 1)[0].split(","))
    if pkg not in owners:
        return f"'{cmd}' ({path}) belongs to {', '.join(sorted(owners)) or 'no package'}, not {pkg}"
    return None


def check(files, whole_tree):
    table = load_table()
    problems = []
    used = set()
    for rel, line, name in scan(files):
        if name.startswith("awk-gawk-only:"):
            problems.append(f"{rel}:{line}: awk program uses {name.split(':', 1)[1]}, which mawk "
                            "(Debian's default awk) does not have")
        elif name not in table:
            problems.append(f"{rel}:{line}: calls '{name}': not in tests/commands.tsv "
                            "(add it with the Debian package that provides it)")
        else:
            used.add(name)
    listed = os.environ.get("DEPS_PKGS", "").split()
    if not listed:
        problems.append("DEPS_PKGS is empty: run through make bats (it passes DEPS_RUN and DEPS_TEST)")
    closure = package_closure(listed) if listed else set()
    bench = os.environ.get("DEPS_BENCH_PKGS", "").split()
    bench_closure = package_closure(bench) - closure if bench else set()
    for cmd in sorted(used):
        pkg = table[cmd]
        if pkg == "adaptfs":
            continue
        present = shutil.which(cmd, path=SYSTEM_PATH)
        if pkg.endswith("?"):  # the caller looks for it first
            pkg = pkg[:-1]
            if not present:
                continue
        elif pkg in bench_closure:  # make deps-bench installs it, make deps-test does not
            if not present:
                continue
        elif pkg not in closure and not is_base(pkg):
            problems.append(f"'{cmd}' comes from {pkg}, which neither a minimal Debian 12 nor "
                            "the Makefile's DEPS_* sets (with their dependencies) install")
        why = owner_ok(cmd, pkg)
        if why:
            problems.append(why)
    if not whole_tree:
        return report(problems)
    for cmd in sorted(set(table) - used):
        problems.append(f"tests/commands.tsv lists '{cmd}', which no script calls: remove it")
    py = "/usr/bin/python3"
    for mod, where in sorted(python_imports().items()):
        r = subprocess.run([py, "-c", f"import importlib.util,sys; sys.exit(importlib.util.find_spec('{mod}') is None)"],
                           capture_output=True)
        if r.returncode:
            problems.append(f"{where}: imports '{mod}', which Debian's python3 does not find")
    return report(problems)


def report(problems):
    for p in problems:
        print(p)
    return 1 if problems else 0


def main():
    verb, files = (sys.argv[1:2] or [""])[0], sys.argv[2:]
    if verb not in ("scan", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    whole_tree = not files
    files = files or shell_files()
    if verb == "scan":
        for rel, line, name in scan(files):
            print(f"{rel}:{line} {name}")
        return 0
    return check(files, whole_tree)


if __name__ == "__main__":
    sys.exit(main())
