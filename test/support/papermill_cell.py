# The parameters cell papermill injects with `-l python`, made here the way papermill's PythonTranslator makes it
# (papermill is not installable from Debian): `# Parameters`, then one `name = <literal>` line per parameter, then,
# when black imports, black.format_str over the whole cell. Written from papermill's translators.py rules, not its
# code: strings are unicode_escape'd with `"` escaped and double-quoted (dict keys too), bools and None as Python
# spells them, ints and finite floats as str(), non-finite floats as float('nan') / float('inf') / float('-inf').
#
# stdin: JSON {"mode": ..., "parameters": {...}}; a float JSON cannot spell comes as {"$float": "nan" | "inf" |
# "-inf" | "-0.0"}. Modes: "plain" (no black), "papermill" (black.FileMode(string_normalization=False), what
# every papermill release since black support writes), "normalized" (black.FileMode(): quotes normalized),
# "preview" (papermill's mode plus black's preview style, which splits long strings into parenthesised pieces).
# stdout: the cell. Exit 3 with a message when black is needed and missing.
import json
import math
import sys


def escaped_str(value):
    if isinstance(value, str):
        value = value.encode("unicode_escape").decode("utf-8").replace('"', '\\"')
    return f'"{value}"'


def literal(value):
    if value is None:
        return "None"
    if isinstance(value, str):
        return escaped_str(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return str(value)
        if math.isnan(value):
            return "float('nan')"
        return "float('-inf')" if value < 0 else "float('inf')"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{escaped_str(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return escaped_str(value)


def special_floats(obj):
    if set(obj) == {"$float"}:
        return float(obj["$float"])
    return obj


def main():
    request = json.loads(sys.stdin.read(), object_hook=special_floats)
    parameters = request["parameters"]
    cell = "# Parameters\n" + "".join(f"{name} = {literal(value)}\n" for name, value in parameters.items())
    mode = request["mode"]
    if mode != "plain":
        try:
            import black
        except ImportError:
            print("black is not installed: apt-get install -y black", file=sys.stderr)
            sys.exit(3)
        modes = {
            "papermill": lambda: black.FileMode(string_normalization=False),
            "normalized": lambda: black.FileMode(),
            "preview": lambda: black.FileMode(string_normalization=False, preview=True),
        }
        cell = black.format_str(cell, mode=modes[mode]())
    sys.stdout.write(cell)


main()
