//go:build !unix

package persistence

// lockFile is a no-op where flock is unavailable: there SQLite's own locking
// is the only guard, which is enough for the single process it is meant for.
func lockFile(string) (func(), error) {
	return func() {}, nil
}
