# The two set-up commands of README.md: `make run` and `make test`.
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
SCENARIO ?= scenarios/split_brain.json
CMAKE_FLAGS ?=

DEBIAN_PACKAGES := cmake g++ make pkg-config libboost-program-options-dev nlohmann-json3-dev catch2 \
                   libgraphviz-dev graphviz

.PHONY: all deps configure build run test bench fuzz compare clean

all: build

# Installs missing Debian packages when run as root; otherwise only reports what is missing.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
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
	./$(BUILD)/sim --scenario $(SCENARIO)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	./$(BUILD)/bench --out results

SEEDS ?= 1000
fuzz: build
	./$(BUILD)/sim fuzz --seeds $(SEEDS) --jobs $(JOBS)

# Real Redis (TRIALS fresh clusters) against the simulator (SEEDS seeds): tools/README-redis-compare.md.
compare: build
	tools/redis-compare --scenario $(SCENARIO) --trials $(or $(TRIALS),5) --seeds $(or $(SEEDS),20) --sim $(BUILD)/sim

clean:
	rm -rf $(BUILD)
