"""Compares one `classify --json` line with the PyTorch fixture's logits.

Acceptance (../shared/fixtures/README.md): max |dlogit| <= 1e-4 * max |logit|.
Usage: compare.py CASE GOT.json EXPECTED_logits.json; exit status 1 on a miss.
"""
import json
import sys

case, got_path, exp_path = sys.argv[1:4]
with open(got_path) as f:
    got = json.loads(f.readline())["logits"]
with open(exp_path) as f:
    exp = json.load(f)["logits"]
if len(got) != len(exp):
    print(f"{case}: FAIL: {len(got)} logits, expected {len(exp)}")
    sys.exit(1)
diff = max(abs(a - b) for a, b in zip(got, exp))
tol = 1e-4 * max(abs(b) for b in exp)
arg_got = max(range(len(got)), key=got.__getitem__)
arg_exp = max(range(len(exp)), key=exp.__getitem__)
ok = diff <= tol and arg_got == arg_exp
print(f"{case}: {'PASS' if ok else 'FAIL'} max|dlogit|={diff:.3e} tol={tol:.3e} "
      f"ratio={diff / tol:.3f} argmax {arg_got} (expected {arg_exp})")
sys.exit(0 if ok else 1)
