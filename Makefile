# p2pnode — the two commands are `make run` and `make test`; both install what is missing first.
SHELL := /bin/bash
SWIFT ?= swift
SHARED ?= ../shared
BIN_DEBUG := .build/debug/p2pnode
BIN_RELEASE := .build/release/p2pnode

.PHONY: setup build release run test unit interop bench proto clean

setup:
	@scripts/setup

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release --product p2pnode
	$(SWIFT) build -c release --product p2pnode-bench

# The main job: a local demo (see README "Quick start").
run: release
	@scripts/demo

# Every test: unit, simulation, CLI and interop against go-libp2p and py-libp2p.
test: setup
	$(SWIFT) build --build-tests
	@scripts/swift-test
	@$(MAKE) --no-print-directory interop

unit: setup
	$(SWIFT) test

interop: setup
	$(SWIFT) build --product p2pnode
	$(SWIFT) build --product p2pnode-interop-peer
	@interop/run
	@interop/reqresp

# Figures, not assertions: release build, prints MB/s, ops/s and ratios to the limits in BENCHMARKS.md.
# Each section in its own process: the transport section's 256 MiB streams, and the one-hop
# gossip passes' caches, leave a heap and a thread pool behind that slowed the next section run
# in the same process (BENCHMARKS.md).
bench: release
	.build/release/p2pnode-bench primitives validation
	.build/release/p2pnode-bench transport
	.build/release/p2pnode-bench gossip-onehop
	.build/release/p2pnode-bench gossip-mesh
	.build/release/p2pnode-bench reqresp
	@interop/bench

# Regenerates the committed protobuf Swift code (needs protoc and protoc-gen-swift).
proto:
	scripts/gen-proto

clean:
	rm -rf .build
