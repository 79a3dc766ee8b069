package gateway

import "context"

// Principal is the authenticated caller of a request.
type Principal struct {
	// Name identifies the caller in audit entries and logs (never its key).
	Name string
}

type principalKey struct{}

// WithPrincipal returns a context carrying the caller.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller carried by ctx (the zero Principal if none).
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}
