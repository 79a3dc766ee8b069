// Package console serves the operator console: a page of plain ES modules,
// embedded in the binary, that uses only the public GraphQL API (what it
// does, a customer's own dashboard can do). It needs no build step and
// makes no request outside its origin.
package console

import (
	"embed"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
)

//go:embed assets
var assets embed.FS

// Path is where the console is served.
const Path = "/console/"

// ContentSecurityPolicy allows the console's own scripts, styles and API
// calls (the websocket included) and nothing else: no inline script, no
// other origin.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the console under Path (and redirects the bare path).
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(Path, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == strings.TrimSuffix(Path, "/") {
			http.Redirect(w, r, Path, http.StatusMovedPermanently)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if t := mime.TypeByExtension(path.Ext(r.URL.Path)); t != "" {
			h.Set("Content-Type", t)
		}
		files.ServeHTTP(w, r)
	})
}

// documentsFile holds every GraphQL document the console sends.
const documentsFile = "assets/documents.js"

// documentEntry is one `name: ` + "`document`" + ` entry of documentsFile.
var documentEntry = regexp.MustCompile("(?m)^  (\\w+): `([^`]*)`,$")

// Documents returns the console's GraphQL documents by name, as the console
// sends them (byte for byte), for a trusted-documents allowlist.
func Documents() (map[string]string, error) {
	raw, err := assets.ReadFile(documentsFile)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	docs := map[string]string{}
	for _, m := range documentEntry.FindAllStringSubmatch(string(raw), -1) {
		if strings.Contains(m[2], "${") || strings.Contains(m[2], `\`) {
			return nil, fmt.Errorf("console: document %s is not a plain template literal", m[1])
		}
		docs[m[1]] = m[2]
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("console: no document found in %s", documentsFile)
	}
	return docs, nil
}
