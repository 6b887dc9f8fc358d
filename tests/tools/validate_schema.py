#!/usr/bin/python3
"""validate_schema.py - check JSON files against a JSON Schema (draft 2020-12).

Usage: validate_schema.py SCHEMA FILE...

Exits 0 if the schema is itself valid and every FILE validates, 1 if any
FILE does not (each error is printed to stderr), 2 on usage errors or an
unreadable or invalid schema. Used by tests/spool to check <ID>.json files.
A "$ref" to another schema's "$id" resolves to the *.schema.json files
beside SCHEMA (never fetched from the network).
"""
import glob
import json
import os
import sys

try:
    from jsonschema import Draft202012Validator, RefResolver
    from jsonschema.exceptions import SchemaError
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"validate_schema.py: jsonschema is not installed for {sys.executable}: {exc}",
          file=sys.stderr)
    sys.exit(2)


def load_json(path):
    """Parse one JSON file; raises OSError or ValueError."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def main(argv):
    if len(argv) < 3:
        print("usage: validate_schema.py SCHEMA FILE...", file=sys.stderr)
        return 2
    try:
        schema = load_json(argv[1])
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, SchemaError) as exc:
        print(f"{argv[1]}: bad schema: {exc}", file=sys.stderr)
        return 2

    store = {}
    for other in glob.glob(os.path.join(os.path.dirname(os.path.abspath(argv[1])), "*.schema.json")):
        try:
            loaded = load_json(other)
        except (OSError, ValueError):
            continue
        if isinstance(loaded, dict) and "$id" in loaded:
            store[loaded["$id"]] = loaded
    validator = Draft202012Validator(schema, resolver=RefResolver.from_schema(schema, store=store))
    failed = 0
    for path in argv[2:]:
        try:
            instance = load_json(path)
        except (OSError, ValueError) as exc:
            print(f"{path}: cannot load: {exc}", file=sys.stderr)
            failed += 1
            continue
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        for error in errors:
            where = "/".join(str(p) for p in error.path) or "(root)"
            print(f"{path}: {where}: {error.message}", file=sys.stderr)
        if errors:
            failed += 1
    if failed:
        print(f"validate_schema.py: {failed} of {len(argv) - 2} file(s) invalid", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
