// Package graphiql serves the GraphiQL explorer entirely from the binary:
// gqlgen's page, with its scripts and stylesheet (the very files gqlgen pins,
// checked by the same subresource-integrity hashes) embedded here instead of
// loaded from a CDN, so the explorer works on a machine without internet.
package graphiql

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"

	"github.com/99designs/gqlgen/graphql/playground"
)

//go:embed assets/*.js assets/*.css
var assets embed.FS

// AssetsPath is where the embedded files are served.
const AssetsPath = "/graphiql/"

// Handler is the explorer page for endpoint.
func Handler(title, endpoint string) http.Handler {
	return playground.Handler(title, endpoint,
		playground.WithGraphiqlVersion(asset("graphiql.min.js"), asset("graphiql.min.css"),
			integrity("graphiql.min.js"), integrity("graphiql.min.css")),
		playground.WithGraphiqlReactVersion(asset("react.production.min.js"), asset("react-dom.production.min.js"),
			integrity("react.production.min.js"), integrity("react-dom.production.min.js")),
		playground.WithGraphiqlEnablePluginExplorer(false),
	)
}

// Assets serves the embedded files under AssetsPath. They never change
// within a build, so browsers may keep them.
func Assets() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(AssetsPath, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t := mime.TypeByExtension(path.Ext(r.URL.Path)); t != "" {
			w.Header().Set("Content-Type", t)
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}

func asset(name string) string { return AssetsPath + name }

// integrity is the subresource-integrity value of an embedded file.
func integrity(name string) string {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	sum := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}
