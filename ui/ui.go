// Package ui is weir's web UI: one page of HTML, CSS and JavaScript
// embedded in the binary (no build step, no Node.js), drawing everything
// from the HTTP API (package api), so that the UI shows nothing the API
// does not answer. `weir serve --http ADDR` serves it at http://ADDR/.
//
// Pages (hash routes): the asset graph (#/), the asset catalog
// (#/assets), an asset (#/asset/KEY) with its partition health bar drawn
// from ranges and a partition's versions and lineage, backfills with a
// launcher and a live page (#/backfills, #/backfill/ID), runs with a
// timeline of their tasks and a task's logs, schedules, and SQL over
// weir's metadata.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// Handler serves the UI at / and /static/, and passes /api/, /healthz,
// /readyz (and anything else) to api, which checks its own token: the
// page asks for one when the API answers 401 and keeps it in the
// browser's local storage.
func Handler(api http.Handler) http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded directory is there by construction
	}
	assets := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isPage := r.URL.Path == "/" || r.URL.Path == "/index.html"
		if !isPage && !strings.HasPrefix(r.URL.Path, "/static/") || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			api.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		if isPage {
			http.ServeFileFS(w, r, files, "index.html")
			return
		}
		http.StripPrefix("/static", assets).ServeHTTP(w, r)
	})
}
