# The two commands the README starts with: `make run` and `make test`.
.PHONY: run test lint bench build fuzz

# Settings come from the environment; a .env file (copy .env.example) fills in what the environment
# leaves unset. ENV_FILE names another file: make run ENV_FILE=staging.env
ENV_FILE ?= .env
run:
	go run ./cmd/certibuy serve $(if $(wildcard $(ENV_FILE)),--env-file $(ENV_FILE))

build:
	go build -o bin/certibuy ./cmd/certibuy

# Everything CI checks: formatting, vet, and every test with the race detector against the local
# PostgreSQL (each test package creates and drops its own databases).
test: lint
	go test -race -count=1 -timeout 15m ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on: $$unformatted"; exit 1; fi
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

FUZZTIME ?= 30s
# Each fuzz target in turn (go test fuzzes one target per run); .ci/fuzz says why it wraps go test.
fuzz:
	.ci/fuzz ./cmd/certibuy FuzzCheckout $(FUZZTIME)
	.ci/fuzz ./cmd/certibuy FuzzWebhook $(FUZZTIME)
	.ci/fuzz ./cmd/certibuy FuzzJSONKeys $(FUZZTIME)
	.ci/fuzz ./adapters/razorpay FuzzParseWebhook $(FUZZTIME)
	.ci/fuzz ./adapters/razorpay FuzzVerifyWebhookSignature $(FUZZTIME)

# Benchmarks report ratios against a baseline measured in the same run; see README.
bench:
	go test ./adapters/postgres -run '^$$' -bench Append -benchtime 3000x
