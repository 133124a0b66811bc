#!/usr/bin/env python3
"""Runs gaon-compile on ONNX models written in ONNX's text syntax.

An importer test (test/Import/*.onnxtxt) holds several cases:

    # MODEL add_broadcast
    <ir_version: 8, opset_import: ["" : 17]>
    g (float[2,3] x, float[3] y) => (float[2,3] z) { z = Add(x, y) }
    # END

For each case this script writes `<name>.onnx`, runs
`gaon-compile <name>.onnx --func-name=<name> [extra flags]` and prints its
output, then its errors as `// ERROR: <line>`, so one FileCheck run checks
every case with a `CHECK-LABEL: func.func @<name>` (or `ERROR` lines for
cases that must be rejected). Flags for one case go on a line
`# FLAGS --input-shape x=2x3` inside its block.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import onnx
import onnx.parser


def parse_cases(path):
    cases, current = [], None
    with open(path) as f:
        for line in f:
            stripped = line.strip()
            if stripped.startswith("# MODEL "):
                current = {"name": stripped[len("# MODEL "):].strip(),
                           "lines": [], "flags": []}
            elif stripped == "# END" and current is not None:
                cases.append(current)
                current = None
            elif current is not None and stripped.startswith("# FLAGS "):
                current["flags"] += stripped[len("# FLAGS "):].split()
            elif current is not None and not stripped.startswith("#"):
                current["lines"].append(line)
    return cases


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("test_file")
    parser.add_argument("--compiler", default="gaon-compile")
    parser.add_argument("--emit", default="import")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for case in parse_cases(args.test_file):
            model = onnx.parser.parse_model("".join(case["lines"]))
            path = os.path.join(tmp, case["name"] + ".onnx")
            onnx.save(model, path)
            cmd = [args.compiler, path, "--emit=" + args.emit,
                   "--func-name=" + case["name"]] + case["flags"]
            result = subprocess.run(cmd, capture_output=True, text=True)
            print("// CASE: " + case["name"])
            sys.stdout.write(result.stdout)
            for line in result.stderr.splitlines():
                print("// ERROR: " + line)
            if result.returncode < 0:
                print("// CRASHED with signal %d" % -result.returncode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
