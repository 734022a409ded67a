# cardsys: `make demo` runs a store day end to end, `make test` the whole suite, `make bench` the figures.
SHELL := /bin/bash
NPM_STAMP := node_modules/.install-stamp
PROTOS := $(wildcard contracts/proto/cardsys/v1/*.proto)
GENERATED := contracts/generated/cardsys.js contracts/generated/cardsys.d.ts

.PHONY: deps system-deps gen build proto-lint proto-baseline typecheck lint format test test-unit demo bench clean

deps: system-deps $(NPM_STAMP) $(GENERATED) build

system-deps:
	@bash infra/install-system-deps.sh

$(NPM_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

gen: $(GENERATED)

# Compiles the sources to dist/, which bin/cardsys.js runs (incremental: quick when little changed),
# and builds head office's console into dist/console (type-checked first), which `cardsys host` serves.
build: $(NPM_STAMP) $(GENERATED)
	npx tsc -p tsconfig.build.json
	npx tsc -p console --noEmit
	npx vite build --config console/vite.config.ts

$(GENERATED): $(PROTOS) $(NPM_STAMP)
	@mkdir -p contracts/generated
	npx pbjs -t static-module -w es6 --es6 --force-number --no-verify --no-delimited -o contracts/generated/cardsys.js $(PROTOS)
	npx pbts -o contracts/generated/cardsys.d.ts contracts/generated/cardsys.js

# Lint the protos and refuse wire-breaking changes against the committed baseline.
proto-lint: $(NPM_STAMP)
	cd contracts && npx buf lint
	cd contracts && npx buf breaking proto --against baseline.binpb

# After a deliberate, compatible change: make the current protos the new baseline (a buf image).
proto-baseline: $(NPM_STAMP)
	cd contracts && npx buf build proto -o baseline.binpb

typecheck: deps
	npx tsc --noEmit
	npx tsc -p console --noEmit

# Lint and format check (Biome), the architecture's import rules, and no unused exports (knip).
lint: deps
	npx biome ci --reporter=summary .
	node infra/checks/layers.mjs
	npx knip --no-progress

# Formats the tree in place.
format: $(NPM_STAMP)
	npx biome format --write .

# The unit tests alone (no I/O: deciders, codecs, cryptography, the chip in process): seconds.
test-unit: $(GENERATED)
	npx vitest run --project unit

test: deps proto-lint typecheck lint
	npx vitest run

demo: deps
	node bin/cardsys.js demo

bench: deps
	node bin/cardsys.js bench

clean:
	rm -rf contracts/generated data .bench dist

# The card tests run against a real pcscd with vpcd's virtual readers and the quickack card link
# (configured and started as root by infra/pcsc; idempotent).
.PHONY: pcscd
pcscd: system-deps
	bash infra/pcsc/pcscd.sh start
test: pcscd

# The demo drives a virtual card through pcscd + vpcd, like the card tests.
demo: pcscd
