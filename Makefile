GO ?= go
BENCHTIME ?= 3x

.PHONY: all build test race receiver fuzz bench testdata lint test32 otelcol jaeger

all: build

build:
	$(GO) build -o bin/trace2x ./cmd/trace2x

# test is what CI runs: lint, the race-enabled test suite, the Collector
# receiver's module, the tests as a 32-bit program, and a short fuzz run.
test: lint race receiver test32 fuzz

# test32 runs the packages' tests built for 32-bit ARM under qemu-arm
# (Debian's qemu-user), where an int has 32 bits.
test32:
	bash scripts/test-32bit.sh

race:
	$(GO) test -race -count=1 -timeout=30m ./...

# receiver tests otelcol/gotracereceiver, a module of its own, which
# `go test ./...` at the root does not enter.
receiver:
	cd otelcol/gotracereceiver && $(GO) vet ./... && GOARCH=386 $(GO) vet ./... && $(GO) test -race -count=1 -timeout=20m ./...

# fuzz feeds mutated input to the reader and mapping, to the scanner that
# follows a stream's generations, to the parallel pass
# (which must give what one reader gives), into every output at once and
# into the Perfetto writer with its packets handed to the ordering
# goroutine one at a time (which must give the same bytes) and stopped at
# a row limit (which must leave a valid file), and arbitrary filters into
# the Perfetto output, and arbitrary uploads, plain or compressed, into the
# Collector receiver's upload endpoint.
# The runs are counted in inputs, 5 to 25 s each on 2 cores, not timed: a
# timed run of Go 1.26's fuzzer can fail with "context deadline exceeded"
# when its time runs out while a worker is busy (go.dev/issue/75804).
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzMap -fuzztime=60000x -fuzzminimizetime=100x ./mapping
	$(GO) test -run='^$$' -fuzz=FuzzScanner -fuzztime=20000x -fuzzminimizetime=100x ./internal/tracefile
	$(GO) test -run='^$$' -fuzz=FuzzParallel -fuzztime=25000x -fuzzminimizetime=100x ./mapping
	$(GO) test -run='^$$' -fuzz=FuzzOutputs -fuzztime=1500x -fuzzminimizetime=100x ./conformance
	$(GO) test -run='^$$' -fuzz=FuzzFilter -fuzztime=2000x -fuzzminimizetime=100x ./conformance
	$(GO) test -run='^$$' -fuzz=FuzzChunks -fuzztime=3000x -fuzzminimizetime=100x ./convert/perfetto
	$(GO) test -run='^$$' -fuzz=FuzzRowLimit -fuzztime=3000x -fuzzminimizetime=100x ./convert/perfetto
	cd otelcol/gotracereceiver && $(GO) test -run='^$$' -fuzz=FuzzUpload -fuzztime=3000x -fuzzminimizetime=100x .

# bench runs every benchmark on the largest sample and a synthetic 50 MB
# trace, then prints each converter's throughput beside parsing alone.
bench:
	@mkdir -p bench
	$(GO) test -run='^$$' -bench=. -benchtime=$(BENCHTIME) -benchmem ./mapping ./convert/... ./stats ./internal/mmu | tee bench/out.txt
	@awk -f scripts/benchreport.awk bench/out.txt

testdata:
	bash testdata/generate.sh

# otelcol builds (once, into the user cache) the OpenTelemetry Collector the
# end-to-end test of trace2x otlp pushes to.
otelcol:
	bash scripts/otelcol/build.sh

# jaeger builds (once, into the user cache) the Jaeger that the end-to-end
# test of trace2x otlp reads traces back from.
jaeger:
	@bash scripts/jaeger/build.sh

# lint also vets for 32-bit Linux (386, arm) and for macOS and Windows: the
# flight recorder runs inside programs built for any of them.
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOOS=linux GOARCH=386 $(GO) vet ./...
	GOOS=linux GOARCH=arm $(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...
