#!/usr/bin/env python3
"""Feeds truncated and byte-flipped copies of ONNX models to gaon-compile.

Every run must end with exit status 0 (the damage hit something harmless, e.g.
a weight value) or 1 with an `error:` message: never a crash, a hang, or an
exit without a message. Prints one summary line per model; exits 1 on the
first violation.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile


def run(compiler, path, flags):
    try:
        result = subprocess.run([compiler, path, "--emit=import", "-o",
                                 os.devnull] + flags,
                                capture_output=True, text=True, errors="replace",
                                timeout=60)
    except subprocess.TimeoutExpired:
        return "hang", None
    if result.returncode < 0:
        return "crash (signal %d)" % -result.returncode, None
    if result.returncode not in (0, 1):
        return "exit status %d" % result.returncode, None
    if result.returncode == 1 and "error:" not in result.stderr:
        return "exit 1 without an error message", None
    return None, result.returncode


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--compiler", required=True)
    parser.add_argument("--cuts", type=int, default=30)
    parser.add_argument("--flips", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("models", nargs="+",
                        help="model.onnx paths, each optionally followed by "
                             "':flag,flag' for gaon-compile")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.models:
            path, _, flag_text = spec.partition(":")
            flags = flag_text.split(",") if flag_text else []
            data = open(path, "rb").read()
            variants = []
            for i in range(args.cuts):
                cut = rng.randrange(0, len(data))
                variants.append(("truncated at %d" % cut, data[:cut]))
            for i in range(args.flips):
                damaged = bytearray(data)
                for _ in range(rng.randint(1, 4)):
                    pos = rng.randrange(0, len(data))
                    damaged[pos] = rng.randrange(0, 256)
                variants.append(("bytes changed (#%d)" % i, bytes(damaged)))
            errors = ok = 0
            for what, content in variants:
                damaged_path = os.path.join(tmp, "damaged.onnx")
                with open(damaged_path, "wb") as f:
                    f.write(content)
                problem, status = run(args.compiler, damaged_path, flags)
                if problem:
                    print("FAIL %s, %s: %s" % (path, what, problem))
                    return 1
                if status == 0:
                    ok += 1
                else:
                    errors += 1
            print("%s: %d damaged copies, %d rejected with an error, %d "
                  "imported" % (os.path.basename(os.path.dirname(path)),
                                len(variants), errors, ok))
    return 0


if __name__ == "__main__":
    sys.exit(main())
