"""What the Python tests of tests/tools share: checks that record a failure instead of stopping, and the
summary line and exit status at the end."""

FAILURES = []
CHECKS = [0]


def check(what, got, want=True):
    CHECKS[0] += 1
    if got != want:
        FAILURES.append(f"{what}: got {got!r}, want {want!r}")


def summary():
    """Prints every failure and the counts; the exit status: 1 if any check failed."""
    for failure in FAILURES:
        print(f"FAILED {failure}")
    print(f"{CHECKS[0] - len(FAILURES)} passed, {len(FAILURES)} failed")
    return 1 if FAILURES else 0
