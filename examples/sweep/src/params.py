"""A tiny reader for the simple YAML subset used by params.yaml.

PyYAML is not in the standard library, so this handles just what a
hyperparameter file needs:

    # comment
    section:            # a nested mapping, opened by `key:` with no value
      key: 3            # int
      rate: 0.05        # float (also 1e-3, .inf, .nan)
      flag: true        # bool (true/false, True/False, TRUE/FALSE)
      name: gbdt        # plain string
      quoted: "a # b"   # quoted strings keep '#' and ':'
      nothing: null     # None (also ~)
      inner:            # sections nest to any depth by indentation
        depth: 2

Sequences (`- item`, `[a, b]`) and flow mappings (`{a: 1}`) are rejected with
a clear error instead of being misread.

Library use:   params.load("params.yaml") -> dict;  params.get(d, "data.seed")
Command line:  python3 src/params.py params.yaml [dotted.key]
"""

import json
import re
import sys

_KEY_RE = re.compile(r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s:#'"][^:#]*?)\s*:(?:\s+(.*))?$""")
_INT_RE = re.compile(r"^[-+]?[0-9]+$")
_FLOAT_RE = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


class ParamsError(ValueError):
    pass


def _strip_comment(line):
    """Remove a trailing `# comment` that is not inside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"':
                continue
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _unquote(text, where):
    if text.startswith('"'):
        try:
            return json.loads(text)
        except ValueError:
            raise ParamsError(f"{where}: bad double-quoted string {text}") from None
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise ParamsError(f"{where}: bad single-quoted string {text}")
        return text[1:-1].replace("''", "'")
    return text


def scalar(text, where="value"):
    """Convert one YAML scalar to a Python value."""
    text = text.strip()
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text[0] in "\"'":
        return _unquote(text, where)
    if text[0] in "[{&*!|>":
        raise ParamsError(f"{where}: unsupported YAML value {text!r} (only scalars)")
    if _INT_RE.match(text):
        return int(text)
    if _FLOAT_RE.match(text):
        return float(text)
    lowered = text.lower()
    if lowered in (".inf", "+.inf"):
        return float("inf")
    if lowered == "-.inf":
        return float("-inf")
    if lowered == ".nan":
        return float("nan")
    return text


def parse(text, source="<params>"):
    """Parse the YAML subset described in the module docstring into a dict."""
    root = {}
    stack = [(0, root)]  # (indentation of the keys in this mapping, mapping)
    pending = None  # mapping opened by the previous `key:` line
    for lineno, raw in enumerate(text.splitlines(), 1):
        where = f"{source}:{lineno}"
        line = _strip_comment(raw).rstrip()
        if not line.strip():
            continue
        if line.strip() in ("---", "..."):
            continue
        body = line.lstrip(" ")
        if body.startswith("\t"):
            raise ParamsError(f"{where}: tabs are not allowed for indentation")
        indent = len(line) - len(body)

        if pending is not None:
            if indent > stack[-1][0]:
                stack.append((indent, pending))
            pending = None
        while len(stack) > 1 and indent < stack[-1][0]:
            stack.pop()
        if indent != stack[-1][0]:
            raise ParamsError(f"{where}: inconsistent indentation")
        if body.startswith("- ") or body == "-":
            raise ParamsError(f"{where}: YAML sequences are not supported")

        m = _KEY_RE.match(body)
        if not m:
            raise ParamsError(f"{where}: expected `key: value` or `section:`")
        key = _unquote(m.group(1).strip(), where)
        mapping = stack[-1][1]
        if key in mapping:
            raise ParamsError(f"{where}: duplicate key {key!r}")
        value = m.group(2)
        if value is None or not value.strip():
            mapping[key] = pending = {}
        else:
            mapping[key] = scalar(value, where)
    return root


def load(path):
    with open(path, encoding="utf-8") as f:
        return parse(f.read(), source=path)


def get(params, dotted):
    """Look up a dotted key such as "train.seed"; KeyError names the key."""
    node = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"missing parameter {dotted!r}")
        node = node[part]
    return node


def main(argv):
    if len(argv) not in (2, 3):
        print("usage: params.py PARAMS_YAML [dotted.key]", file=sys.stderr)
        return 2
    data = load(argv[1])
    if len(argv) == 3:
        data = get(data, argv[2])
    print(json.dumps(data, sort_keys=True, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
