# Tasks for working on Memory Gateway. `make help` lists them; CONTRIBUTING.md explains the loops.

# The local PostgreSQL the PostgreSQL tests use unless TEST_DATABASE_URL says otherwise.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
# staticcheck runs by version, so it stays out of go.mod (as in .ci/run).
STATICCHECK_VERSION ?= v0.8.2
# Extra flags for go test, e.g. make test TESTFLAGS='-race -count=1'.
TESTFLAGS ?=

.PHONY: help build test test-pg lint generate verify ci

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 10

build: ## build the binary ./memory-gateway
	go build -o memory-gateway .

test: ## run the tests (SQLite; PostgreSQL too when TEST_DATABASE_URL is set in the environment)
	go test $(TESTFLAGS) ./...

test-pg: ## run the tests on SQLite and PostgreSQL (TEST_DATABASE_URL, default the local server)
	TEST_DATABASE_URL='$(TEST_DATABASE_URL)' go test $(TESTFLAGS) ./...

lint: ## gofmt check, go vet, staticcheck
	@unformatted=$$(gofmt -l $$( { git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'; } 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

generate: ## regenerate graph/ (gqlgen) and policy/vendor_rules_gen.go (vendor token rules)
	go generate .
	go generate ./policy/

verify: ## check the generated code is current (as CI does), leaving the tree as it was
	@snapshot=$$(mktemp -d); trap 'rm -rf "$$snapshot"' EXIT; \
	cp -r graph "$$snapshot/graph" && cp policy/vendor_rules_gen.go "$$snapshot/vendor_rules_gen.go" || exit 1; \
	$(MAKE) --no-print-directory generate || exit 1; \
	status=0; \
	diff -r "$$snapshot/graph" graph || status=1; \
	diff "$$snapshot/vendor_rules_gen.go" policy/vendor_rules_gen.go || status=1; \
	if [ $$status -ne 0 ]; then \
		rm -rf graph && cp -r "$$snapshot/graph" graph && cp "$$snapshot/vendor_rules_gen.go" policy/vendor_rules_gen.go; \
		echo "generated code is stale: run 'make generate' and commit the result"; \
	else echo "generated code is current"; fi; \
	exit $$status

ci: ## the full loop CI runs (.ci/run)
	./.ci/run
