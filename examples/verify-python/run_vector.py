"""run_vector.py VECTOR.json [...]: checks kong-upstream-jwt conformance vectors with
upstream_jwt.Verifier. Prints "FILE: valid", "FILE: invalid CODE reason" or "FILE: cannot-judge
reason" per file; exits with the highest of 0 (valid), 1 (invalid), 2 (cannot judge)."""
import base64
import json
import os
import sys

from upstream_jwt import VerificationError, Verifier


def judge(path: str):
    try:
        with open(path, "rb") as f:
            vector = json.load(f)
        policy = vector["policy"]
        with open(os.path.join(os.path.dirname(path), policy["ca"]), "rb") as f:
            ca = f.read()
        verifier = Verifier(ca, policy["audience"], policy["issuer"], policy["clock_tolerance"],
                            policy["legacy_x5c"])
        request = vector["request"] or {}
        body = base64.b64decode(vector["body_base64"], validate=True)
    except Exception as err:  # noqa: BLE001 - anything wrong with the vector itself
        return 2, f"{type(err).__name__}: {err}"
    try:
        verifier.verify(vector["token"], body, request.get("method"), request.get("url"), now=vector["now"])
        return 0, ""
    except VerificationError as err:
        return 1, f"{err.code} {err.reason}"
    except Exception as err:  # noqa: BLE001 - a recipe bug must show, not pass as "invalid"
        return 2, f"{type(err).__name__}: {err}"


def main(argv):
    if not argv:
        print("usage: run VECTOR.json [VECTOR.json ...]", file=sys.stderr)
        return 2
    worst = 0
    for path in argv:
        status, detail = judge(path)
        print(f"{path}: {['valid', 'invalid', 'cannot-judge'][status]} {detail}".rstrip())
        worst = max(worst, status)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
