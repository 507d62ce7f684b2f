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

bench: build
	@cmake --build $(BUILD) --target benchmarks -j $(JOBS)
	@for b in land ingest curate features bandit state dq; do echo "== bench_$$b"; $(BUILD)/bench/bench_$$b || exit 1; done
	@echo "== bench_supabase (PostgreSQL on a free loopback port)"; bench/supabase.sh $(BUILD)/bench/bench_supabase
	@command -v wrk >/dev/null || scripts/install-deps.sh --bench
	@echo "== bench serve (wrk against mdp serve and a bare libmicrohttpd)"; bench/serve.sh $(BUILD)
	@echo "== bench seed (mdp seed --users 100000: peak RSS and time against 200 MB, 60 s)"; bench/seed.sh $(BUILD)/mdp
	@echo "== bench cdc (changes/s against pg_recvlogical, commit->raw latency)"; bench/cdc.sh $(BUILD)/mdp
	@cmake --build $(BUILD) --target aws_store -j $(JOBS)
	@echo "== bench aws (ingest into moto's S3 vs file mode; 1 GiB streamed upload)"; bench/aws.sh $(BUILD)/mdp $(BUILD)/tests/aws_store
	@echo "== bench dsar (export, then erasure, of one user of the 10,000-user demo lake: < 10 s, < 60 s)"; \
	  d=$$(mktemp -d /tmp/mdp-bench-dsar-XXXXXX); trap 'rm -rf "$$d"' EXIT; \
	  $(BUILD)/mdp --log-level off demo --dir "$$d/lake" --users 10000 >/dev/null && \
	  bench/dsar.sh $(BUILD)/mdp "$$d/lake"; e=$$?; bench/dsar_erase.sh $(BUILD)/mdp 10000 "$$d/lake" && exit $$e

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
