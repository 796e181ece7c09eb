# The two set-up commands of README.md: `make run` and `make test`.
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
SCENARIO ?= scenarios/split_brain.json
CMAKE_FLAGS ?=

DEBIAN_PACKAGES := cmake g++ make pkg-config libboost-program-options-dev nlohmann-json3-dev catch2 \
                   libgraphviz-dev graphviz gnuplot-nox libnetfilter-queue-dev libssl-dev

# The real-Redis side of tools/redis-compare (make compare, make compare-all) and its tests; chromium for
# the browser check of report.html (tests/tools/report_html_test.py).
REAL_PACKAGES := redis-server redis-tools iptables faketime chromium
# The parsers' libFuzzer harness (make fuzz-parsers, and its short run in .ci/run): clang, whose
# recommended libclang-rt brings libFuzzer and the sanitizer runtimes.
FUZZ_PACKAGES := clang

.PHONY: fuzz-campaign bench-ab clients sanitize fuzz-parsers all deps deps-real deps-fuzz configure build run test bench fuzz sweep compare compare-all compare-all-sim hashes clean

all: build

# Installs missing Debian packages when run as root; otherwise only reports what is missing.
deps deps-real deps-fuzz: PACKAGES = $(if $(filter deps-real,$@),$(REAL_PACKAGES),$(if $(filter deps-fuzz,$@),$(FUZZ_PACKAGES),$(DEBIAN_PACKAGES)))
deps deps-real deps-fuzz:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	  else echo "missing Debian packages (run as root or install them): $$missing"; exit 1; fi; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: deps build
	$(BUILD)/sim --scenario $(SCENARIO)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	$(BUILD)/bench --out results

SEEDS ?= 1000
fuzz: build
	$(BUILD)/sim fuzz --seeds $(SEEDS) --jobs $(JOBS)

# The trace sha256 of every shipped scenario at HASH_SEEDS, into HASHES (default BUILD/trace-hashes.txt):
# a change that must not alter behaviour (a speed-up, a refactoring) keeps every line; run it on two
# checkouts and diff the files. `sim fuzz --trace-hashes FILE` does the same for fuzz seeds.
HASH_SEEDS ?= 1 7
HASHES ?= $(BUILD)/trace-hashes.txt
hashes: build
	@: > $(HASHES); for f in scenarios/*.json scenarios/errata/*.json; do for s in $(HASH_SEEDS); do \
	  h=$$($(BUILD)/sim --scenario $$f --seed $$s --out $(BUILD)/hashes/$$(basename $$f .json)-$$s --json \
	       | sed -n 's/.*"trace_sha256": "\([0-9a-f]*\)".*/\1/p'); \
	  echo "$$(basename $$f) $$s $$h" >> $(HASHES); \
	done; done; echo "wrote $(HASHES) ($$(wc -l < $(HASHES)) scenario runs)"

# One parameter over values, several seeds each -> CSVs and a plot (README.md, "Sweeps"):
#   make sweep SCENARIO=scenarios/master_crash.json PARAM=cluster-node-timeout VALUES=1000,2000,5000
#   [RANGE=FROM:TO:STEP instead of VALUES] [SEEDS=10] [METRIC=promoted_ms] [UNTIL=60s] [SET="NAME=VALUE ..."] [OUT=DIR]
SWEEP_SEEDS = $(if $(filter file,$(origin SEEDS)),10,$(SEEDS))
sweep: build
	$(BUILD)/sim sweep --scenario $(SCENARIO) --param $(PARAM) $(if $(RANGE),--range $(RANGE),--values $(VALUES)) \
	  --seeds $(SWEEP_SEEDS) --jobs $(JOBS) $(if $(METRIC),--metric $(METRIC)) $(if $(UNTIL),--until $(UNTIL)) \
	  $(foreach s,$(SET),--set $(s)) $(if $(OUT),--out $(OUT))

# Real Redis (TRIALS fresh clusters) against the simulator (SEEDS seeds): tools/README-redis-compare.md.
# SEEDS defaults to 20 here, not to the fuzz budget above.
COMPARE_SEEDS = $(if $(filter file,$(origin SEEDS)),20,$(SEEDS))
compare: build
	tools/redis-compare --scenario $(SCENARIO) --trials $(or $(TRIALS),5) --seeds $(COMPARE_SEEDS) --sim $(BUILD)/sim

# Every scenario of scenarios/ on real Redis (TRIALS each, default 3) and in sim (SEEDS, default 100; 20 for
# the 100-node ones) -> results/fidelity-real/scenarios/*.json and the matrix results/fidelity-real.md. As
# root: installs what the real side needs first. ONLY="split_brain master_crash" narrows it.
# compare-all-sim: only the simulator side again, the stored real trials kept (after a change to sim).
COMPARE_ALL_SEEDS = $(if $(filter file,$(origin SEEDS)),100,$(SEEDS))
compare-all: deps-real build
	tools/compare-all --trials $(or $(TRIALS),3) --seeds $(COMPARE_ALL_SEEDS) --sim $(BUILD)/sim $(if $(ONLY),--only $(ONLY))

compare-all-sim: build
	tools/compare-all --sim-only --seeds $(COMPARE_ALL_SEEDS) --sim $(BUILD)/sim $(if $(ONLY),--only $(ONLY))

# Is this tree slower than BASE (a git revision)? Both built, bench run on them alternately -> results/bench-ab.md.
bench-ab:
	tools/bench-ab $(or $(BASE),HEAD~1) --rounds $(or $(ROUNDS),3)

# What each client library's defaults (sim/client_profiles.cpp) do to writes through a master crash, a
# minority partition and a zone outage -> results/clients.md (seeds 1..5, or SEEDS).
CLIENTS_SEEDS = $(if $(filter file,$(origin SEEDS)),5,$(SEEDS))
clients: build
	tools/clients-report --seeds $(CLIENTS_SEEDS) --sim $(BUILD)/sim --out results/clients.md

# Debug + ASan + UBSan (build-sanitize/): every test, then 500 fuzz seeds; any report fails it (issue 16).
sanitize:
	cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DRCSIM_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build build-sanitize -j $(JOBS)
	cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)
	build-sanitize/sim fuzz --seeds $(or $(SANITIZE_SEEDS),500) --jobs $(JOBS) --out build-sanitize/fuzz --no-shrink

# The parsers under libFuzzer with clang, ASan and UBSan (build-fuzz/): RUNS inputs (default 1000000), then
# every scenario input of the corpus through sim --print-scenario -> results/fuzz-parsers.md.
# The correct protocol over SEEDS swarm seeds (default 100000; TIME_LIMIT=S stops starting seeds after S s) on
# every core -> results/fuzz-campaign.md
# (failures with shrunk repros, fault-kind and protocol-event coverage). Exit 1 on any failure.
fuzz-campaign: build
	tools/fuzz-campaign --seeds $(or $(SEEDS),100000) --from $(or $(FROM),1) --jobs $(JOBS) --sim $(BUILD)/sim $(if $(TIME_LIMIT),--time-limit $(TIME_LIMIT)) $(if $(PROFILE),--profile $(PROFILE))

fuzz-parsers: deps-fuzz build
	tools/fuzz-parsers --runs $(or $(RUNS),1000000) --sim $(BUILD)/sim

clean:
	rm -rf $(BUILD)
