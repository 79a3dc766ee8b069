package resolvers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Error codes of trusted documents.
const (
	// CodePersistedQueryNotFound: a hash that names no document (the code
	// automatic persisted queries use, so clients retry with the text).
	CodePersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"
	// CodeDocumentNotTrusted: a document a restricted key may not run.
	CodeDocumentNotTrusted = "DOCUMENT_NOT_TRUSTED"
)

// TrustedScope says which keys may run only trusted documents.
type TrustedScope string

// Trusted scopes.
const (
	// TrustedForDashboards restricts keys of role DASHBOARD (the default):
	// dashboards published to many users.
	TrustedForDashboards TrustedScope = "dashboard"
	// TrustedForNonAdmins restricts every key but ADMIN ones.
	TrustedForNonAdmins TrustedScope = "non-admin"
)

// TrustedDocuments is an allowlist of GraphQL documents, by the hex sha256
// of their text. Keys it restricts run only these: by hash
// (extensions.persistedQuery.sha256Hash, or documentId), or by sending a
// listed document's text (compared after formatting, so whitespace does not
// matter). Other keys may use the hashes too.
type TrustedDocuments struct {
	scope TrustedScope
	// path, when set, is the file or directory the list is reloaded from.
	path string
	set  atomic.Pointer[trustedSet]
}

// trustedSet is one version of the list.
type trustedSet struct {
	byHash    map[string]string
	canonical map[string]bool
	digest    string
}

// NewTrustedDocuments builds an allowlist; every document must parse.
func NewTrustedDocuments(docs map[string]string, scope TrustedScope) (*TrustedDocuments, error) {
	switch scope {
	case TrustedForDashboards, TrustedForNonAdmins:
	case "":
		scope = TrustedForDashboards
	default:
		return nil, fmt.Errorf("trusted documents: %q is not a scope (want %s or %s)", scope, TrustedForDashboards, TrustedForNonAdmins)
	}
	set, err := newTrustedSet(docs)
	if err != nil {
		return nil, err
	}
	t := &TrustedDocuments{scope: scope}
	t.set.Store(set)
	return t, nil
}

func newTrustedSet(docs map[string]string) (*trustedSet, error) {
	set := &trustedSet{byHash: map[string]string{}, canonical: map[string]bool{}}
	hashes := make([]string, 0, len(docs))
	for h := range docs {
		hashes = append(hashes, h)
	}
	sort.Strings(hashes)
	for _, h := range hashes {
		doc := docs[h]
		if got := DocumentHash(doc); got != strings.ToLower(h) {
			return nil, fmt.Errorf("trusted documents: %s is not the sha256 of its document (that is %s)", h, got)
		}
		canon, err := canonicalDocument(doc)
		if err != nil {
			return nil, fmt.Errorf("trusted documents: %s: %w", h, err)
		}
		set.byHash[strings.ToLower(h)] = doc
		set.canonical[canon] = true
	}
	set.digest = DocumentHash(strings.Join(hashes, ","))
	return set, nil
}

// LoadTrustedDocuments reads TRUSTED_DOCUMENTS_FILE: a JSON object of
// sha256 → document, or a directory of .graphql files (each file one
// document, hashed as it is). Reload and Watch read it again.
func LoadTrustedDocuments(path string, scope TrustedScope) (*TrustedDocuments, error) {
	docs, err := readTrustedDocuments(path)
	if err != nil {
		return nil, err
	}
	t, err := NewTrustedDocuments(docs, scope)
	if err != nil {
		return nil, err
	}
	t.path = path
	return t, nil
}

func readTrustedDocuments(path string) (map[string]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("TRUSTED_DOCUMENTS_FILE: %w", err)
	}
	docs := map[string]string{}
	if info.IsDir() {
		files, err := filepath.Glob(filepath.Join(path, "*.graphql"))
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_DOCUMENTS_FILE: %w", err)
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("TRUSTED_DOCUMENTS_FILE: %w", err)
			}
			docs[DocumentHash(string(raw))] = string(raw)
		}
	} else {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_DOCUMENTS_FILE: %w", err)
		}
		if err := json.Unmarshal(raw, &docs); err != nil {
			return nil, fmt.Errorf("TRUSTED_DOCUMENTS_FILE must be a JSON object of sha256 → document, or a directory of .graphql files: %w", err)
		}
	}
	if len(docs) == 0 {
		return nil, errors.New("TRUSTED_DOCUMENTS_FILE lists no document: restricted keys could run nothing")
	}
	return docs, nil
}

// Reload reads the list again. A list that cannot be read or does not
// hold is refused, and the one in force stays. changed reports whether the
// documents differ.
func (t *TrustedDocuments) Reload() (changed bool, err error) {
	if t.path == "" {
		return false, errors.New("trusted documents: not read from a file")
	}
	docs, err := readTrustedDocuments(t.path)
	if err != nil {
		return false, err
	}
	set, err := newTrustedSet(docs)
	if err != nil {
		return false, err
	}
	old := t.set.Swap(set)
	return old.digest != set.digest, nil
}

// Watch reloads the list on every value of reload (SIGHUP) and every
// interval, until ctx is done; report hears each reload that changed the
// list or failed.
func (t *TrustedDocuments) Watch(ctx context.Context, interval time.Duration, reload <-chan os.Signal, report func(documents int, err error)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
		case <-ticker.C:
		}
		changed, err := t.Reload()
		switch {
		case err != nil && err.Error() != lastErr:
			lastErr = err.Error()
			report(t.Len(), err)
		case err == nil && changed:
			lastErr = ""
			report(t.Len(), nil)
		}
	}
}

// DocumentHash is the hex sha256 of a document's text.
func DocumentHash(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// Len is the number of documents.
func (t *TrustedDocuments) Len() int { return len(t.set.Load().byHash) }

// Restricts reports whether p may run only the trusted documents.
func (t *TrustedDocuments) Restricts(p gateway.Principal) bool { return t.restricts(p) }

func (t *TrustedDocuments) restricts(p gateway.Principal) bool {
	switch t.scope {
	case TrustedForNonAdmins:
		return p.Role != gateway.RoleAdmin
	default:
		return p.Role == gateway.RoleDashboard
	}
}

func (t *TrustedDocuments) trusted(doc string) bool {
	set := t.set.Load()
	if _, ok := set.byHash[DocumentHash(doc)]; ok {
		return true
	}
	canon, err := canonicalDocument(doc)
	return err == nil && set.canonical[canon]
}

func (t *TrustedDocuments) byHash(hash string) (string, bool) {
	doc, ok := t.set.Load().byHash[strings.ToLower(hash)]
	return doc, ok
}

// canonicalDocument is a document as the formatter prints it.
func canonicalDocument(doc string) (string, error) {
	parsed, err := parser.ParseQuery(&ast.Source{Input: doc})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	formatter.NewFormatter(&b).FormatQueryDocument(parsed)
	return b.String(), nil
}

// trustedDocumentsGate applies the allowlist before automatic persisted
// queries see the request, so a restricted key can neither run nor
// register an unlisted document.
type trustedDocumentsGate struct{ docs *TrustedDocuments }

var _ graphql.OperationParameterMutator = trustedDocumentsGate{}

func (trustedDocumentsGate) ExtensionName() string                   { return "TrustedDocuments" }
func (trustedDocumentsGate) Validate(graphql.ExecutableSchema) error { return nil }

func (g trustedDocumentsGate) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	p, _ := gateway.PrincipalFrom(ctx)
	restricted := g.docs.restricts(p)
	hash := persistedHash(raw.Extensions)
	if raw.Query == "" && hash != "" {
		if doc, ok := g.docs.byHash(hash); ok {
			raw.Query = doc
			delete(raw.Extensions, "persistedQuery")
			return nil
		}
		if restricted {
			return &gqlerror.Error{Message: "no trusted document has this hash", Extensions: map[string]any{"code": CodePersistedQueryNotFound}}
		}
		return nil // automatic persisted queries answer it
	}
	if !restricted || raw.Query == "" {
		return nil
	}
	if !g.docs.trusted(raw.Query) {
		return &gqlerror.Error{
			Message:    "this key runs only trusted documents, and this document is not one of them",
			Extensions: map[string]any{"code": CodeDocumentNotTrusted},
		}
	}
	// A restricted key never registers documents through automatic
	// persisted queries.
	delete(raw.Extensions, "persistedQuery")
	return nil
}

// persistedHash is extensions.persistedQuery.sha256Hash, if any.
func persistedHash(ext map[string]any) string {
	pq, ok := ext["persistedQuery"].(map[string]any)
	if !ok {
		return ""
	}
	h, _ := pq["sha256Hash"].(string)
	return h
}
