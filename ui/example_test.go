package ui_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/weir-dev/weir/ui"
)

// The UI serves its page and passes the rest to the API's handler
// (api.Server.Handler() in weir serve).
func ExampleHandler() {
	apiHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "the API answers %s %s", r.Method, r.URL.Path)
	})
	srv := httptest.NewServer(ui.Handler(apiHandler))
	defer srv.Close()
	for _, path := range []string{"/", "/static/app.js", "/api/v1/assets"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		first, _, _ := strings.Cut(string(body), "\n")
		fmt.Printf("%s: %d %s | %s\n", path, resp.StatusCode, resp.Header.Get("Content-Type"), first)
	}
	// Output:
	// /: 200 text/html; charset=utf-8 | <!doctype html>
	// /static/app.js: 200 text/javascript; charset=utf-8 | // weir's web UI: a page per hash route, each drawn from the HTTP API
	// /api/v1/assets: 200 text/plain; charset=utf-8 | the API answers GET /api/v1/assets
}
