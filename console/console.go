// Package console serves the operator console: a page of plain ES modules,
// embedded in the binary, that uses only the public GraphQL API (what it
// does, a customer's own dashboard can do). It needs no build step and
// makes no request outside its origin.
package console

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
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
