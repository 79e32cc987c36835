# Makefile - the front door: installs missing Debian packages, then drives CMake and ctest.
#   make demo        the main job on the built-in default
#   make check       build and run every test (what .ci/run calls)
#   make check-sanitize   the same suite built with AddressSanitizer + UBSan
#   make fuzz        the libFuzzer harnesses, FUZZ_SECONDS (10) each (clang; tests/fuzz/run.sh)
#   make bench       every benchmark against its peer (bench/: conv2d and the UNet training step
#                    and sampling against PyTorch + diffusers, GMM EM against scikit-learn)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 10

.PHONY: all deps build demo check check-sanitize fuzz bench fixtures clean

all: build

deps:
	@sh tools/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	@./$(BUILD)/gmmdiff demo

check: build
	@cd $(BUILD) && ctest --output-on-failure

check-sanitize: deps
	@cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGD_SANITIZE=ON >/dev/null
	@cmake --build build-sanitize -j$(JOBS)
	@cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure

# every parser under libFuzzer with ASan + UBSan (builds build-fuzz with clang, which it installs)
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

bench: build
	@sh bench/train_bench.sh $(BUILD)
	@sh bench/gmm_bench.sh $(BUILD)
	@sh bench/conv_bench.sh $(BUILD)

# regenerate the PyTorch fixtures in tests/fixtures (needs python3-torch; see tools/ref/README.md)
fixtures:
	@sh tools/install-deps.sh python3-torch python3-numpy
	/usr/bin/python3 tools/ref/make_fixtures.py tests/fixtures

clean:
	rm -rf $(BUILD) build-sanitize build-fuzz
