"""Shared harness of the Python acceptance tests: counted assertions and the closing
"name: N passed, N failed" line (the shell tests have the same in lib.sh)."""
import sys

passed = failed = 0
SHOWN = 40  # failures printed at most (a test of thousands of checks fails in bulk)


def check(cond, msg):
    """Counts a check; a failed one is printed with its message (the first SHOWN of them)."""
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        if failed <= SHOWN:
            print("FAIL:", msg, file=sys.stderr)


def finish(name):
    """Prints the summary line and returns the exit status."""
    if failed > SHOWN:
        print(f"FAIL: ... and {failed - SHOWN} more", file=sys.stderr)
    print(f"{name}: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
