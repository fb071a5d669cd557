"""Evaluate IAM policy cases with moto's own evaluator.

Reads one JSON case a line on stdin: {"policies": [document text, ...],
"action": "s3:GetObject", "resource": "arn:..."}; writes one JSON line a
case: {"result": "PERMITTED" | "DENIED" | "NEUTRAL"} or {"error": "..."}.
The first line written says whether moto could be imported.

Several policies are combined the way moto combines a principal's policies
(moto.iam.access_control.IAMRequestBase.check_action_permitted): any DENIED
wins, else any PERMITTED, else NEUTRAL.
"""

import json
import sys

try:
    import moto
    from moto.iam.access_control import IAMPolicy, PermissionResult
except Exception as exc:  # report, do not crash: the Go test explains what to install
    print(json.dumps({"fatal": "cannot import moto.iam.access_control: %r" % (exc,)}), flush=True)
    sys.exit(0)

print(json.dumps({"ready": True, "moto": moto.__version__}), flush=True)

for line in sys.stdin:
    case = json.loads(line)
    try:
        permitted = False
        result = None
        for document in case["policies"]:
            r = IAMPolicy(document).is_action_permitted(case["action"], case["resource"])
            if r == PermissionResult.DENIED:
                result = "DENIED"
                break
            if r == PermissionResult.PERMITTED:
                permitted = True
        if result is None:
            result = "PERMITTED" if permitted else "NEUTRAL"
        out = {"result": result}
    except Exception as exc:
        out = {"error": repr(exc)}
    sys.stdout.write(json.dumps(out) + "\n")
sys.stdout.flush()
