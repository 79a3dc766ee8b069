package policy

// Regenerate vendor_rules_gen.go, the vendor token rules, from the rule
// files in rules/ (gitleaks' default rules at the tag and commit named
// here, and the project's own additions). To update gitleaks' rules,
// replace rules/gitleaks.toml with config/gitleaks.toml of a newer
// release, change the tag and commit below, and run `go generate ./policy/`.

//go:generate go run ./internal/rulegen -out vendor_rules_gen.go -source "gitleaks v8.30.1 (83d9cd684c87d95d656c1458ef04895a7f1cbd8e)=rules/gitleaks.toml" -source "memory-gateway=rules/local.toml"
