// Package namespace holds the one rule of namespace prefixes, in the two
// forms the gateway needs it: a Go check (grants, scopes, filters of loaded
// records) and an SQL condition (lists, counts, the local backend's search).
// Both are case-sensitive and match on segment boundaries: "team" covers
// "team" and "team/a", never "teamster" nor "Team".
package namespace

import (
	"strings"
	"unicode/utf8"
)

// Separator divides namespace segments.
const Separator = "/"

// below is the prefix every namespace strictly under prefix starts with.
func below(prefix string) string { return prefix + Separator }

// Covers reports whether prefix covers ns: ns is prefix or lies below it.
// The empty prefix covers everything.
func Covers(prefix, ns string) bool {
	return prefix == "" || ns == prefix || strings.HasPrefix(ns, below(prefix))
}

// Condition is the SQL form of Covers for a text column: a condition and its
// arguments, the same on PostgreSQL and SQLite. It compares with = on a
// substring rather than LIKE, whose case-insensitivity on SQLite would let
// "billing" match "BILLING/exec"; substr counts characters on both. The
// empty prefix gives a condition that is always true.
func Condition(column, prefix string) (string, []any) {
	if prefix == "" {
		return "1 = 1", nil
	}
	under := below(prefix)
	return "(" + column + " = ? OR substr(" + column + ", 1, ?) = ?)",
		[]any{prefix, utf8.RuneCountInString(under), under}
}

// Common is the longest prefix, on segment boundaries, that covers every
// namespace given; "" when they share none (or none is given).
func Common(namespaces ...string) string {
	if len(namespaces) == 0 {
		return ""
	}
	common := strings.Split(namespaces[0], Separator)
	for _, ns := range namespaces[1:] {
		segments := strings.Split(ns, Separator)
		n := 0
		for n < len(common) && n < len(segments) && common[n] == segments[n] {
			n++
		}
		common = common[:n]
	}
	return strings.Join(common, Separator)
}
