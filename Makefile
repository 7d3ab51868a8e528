GO ?= go
BENCHTIME ?= 3x

.PHONY: all build test race fuzz bench testdata lint

all: build

build:
	$(GO) build -o bin/trace2x ./cmd/trace2x

# test is what CI runs: lint, the race-enabled test suite, and a short fuzz run.
test: lint race fuzz

race:
	$(GO) test -race -count=1 ./...

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzMap -fuzztime=20s -fuzzminimizetime=5s ./mapping

bench:
	$(GO) test -run='^$$' -bench=. -benchtime=$(BENCHTIME) -benchmem ./mapping

testdata:
	bash testdata/generate.sh

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
