# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-unit test-asan lint fuzz bench format clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DMDP_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The main job on the embedded default: a lake in ./mdp-lake, seeded and run end to end.
demo: build
	./$(BUILD)/mdp --config config/mdp.yaml demo

# Every test: the normal build, then the same suite under ASan+UBSan, where the out-of-memory
# tests (label oom, -DMDP_FAULT_INJECTION=ON) run too and prove their failure paths leak nothing.
# The lint tests (header docs, clang-format) run in both. The benchmarks are built (not run) so
# that they keep compiling with the library. One kind of test: ctest -L unit|fuzz|acceptance|...
test: build
	@cmake --build $(BUILD) --target benchmarks -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-asan

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DMDP_WERROR=ON -DMDP_SANITIZE=ON -DMDP_FAULT_INJECTION=ON \
	  -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)

# The two lint tests alone (header documentation, clang-format): see docs/contributing.md.
lint: build
	cd $(BUILD) && ctest --output-on-failure -L lint

# libFuzzer targets (clang); FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 30
fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DMDP_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@for c in tests/fuzz/corpus/*; do \
	  n=$$(basename $$c); t=$(FUZZ_BUILD)/tests/fuzz_$$n; \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  echo "fuzzing $$n for $(FUZZ_SECONDS)s (new inputs in $(FUZZ_BUILD)/corpus/$$n)"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 $(FUZZ_BUILD)/corpus/$$n $$c || exit 1; \
	done

# Every benchmark, then one summary table (bench/run.sh). QUICK=1: every part at a reduced size
# (a few minutes in all, for before and after a hot-path change); the full size is the default.
QUICK ?= 0
bench: build
	@cmake --build $(BUILD) --target benchmarks -j $(JOBS)
	@QUICK=$(QUICK) bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
