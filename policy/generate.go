package policy

// Regenerate vendor_rules_gen.go, the vendor token rules, from gitleaks'
// default rules — config/gitleaks.toml of the gitleaks Go module at the
// version named here, downloaded through the module proxy, not copied into
// this repository — and the project's own additions in rules/local.toml.
// To update gitleaks' rules, change the version below and run
// `go generate ./policy/`.

//go:generate go run ./internal/rulegen -out vendor_rules_gen.go -module "gitleaks=github.com/zricethezav/gitleaks/v8@v8.30.1:config/gitleaks.toml" -source "memory-gateway=rules/local.toml"
