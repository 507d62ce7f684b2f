#!/usr/bin/env bash
# The format check of `make test` (CTest lint_format): every tracked .c/.h file must be as
# clang-format leaves it with the repository's .clang-format. Fix with `make format` (or
# clang-format -i FILE for the files you touched). CLANG_FORMAT names another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format}
if ! command -v "$cf" >/dev/null; then
    echo "check-format: $cf not found (apt-get install clang-format)" >&2
    exit 1
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files '*.c' '*.h' | grep -v '^deps/')
else
    mapfile -t files < <(find src include tests bench -name '*.[ch]' | sort)
fi
# -Werror turns every place that would change into an error naming file:line
if ! "$cf" --dry-run -Werror "${files[@]}"; then
    echo "check-format: the files above are not formatted (clang-format -i FILE)" >&2
    exit 1
fi
echo "check-format: ${#files[@]} files formatted"
