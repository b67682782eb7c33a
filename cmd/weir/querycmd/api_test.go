package querycmd_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/cmd/weir/querycmd"
	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/store/sqlite"
)

// TestQueryOverTheAPI: POST /api/v1/query answers weir query's SQL with
// rows capped, refuses SQL that reaches files (400), bad limits (400) and
// callers without the token (401).
func TestQueryOverTheAPI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	clk := clock.NewFake(time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC))
	srv := httptest.NewServer((&api.Server{Store: st, Bucket: bucket, Graph: nightly.Graph(), Clock: clk, Token: "t0k", PublicRead: true,
		Query: querycmd.Query}).Handler())
	defer srv.Close()
	post := func(token, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/query", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s: not JSON: %s", body, data)
		}
		if resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", body, resp.StatusCode, data, want)
		}
		return m
	}
	// A query is a POST: with --public-read it still needs the token.
	post("", `{"sql": "SELECT 1"}`, 401)
	m := post("t0k", `{"sql": "SELECT asset, count(*) AS partitions, 'NaN'::DOUBLE AS x FROM partitions GROUP BY asset ORDER BY asset"}`, 200)
	if cols := m["columns"].([]any); len(cols) != 3 || len(m["rows"].([]any)) != 4 || m["truncated"] != false {
		t.Errorf("query %v", m)
	}
	if row := m["rows"].([]any)[0].([]any); row[0] != "cleaned_orders" || row[1] != 9.0 || row[2] != "NaN" {
		t.Errorf("first row %v", row)
	}
	if m := post("t0k", `{"sql": "SELECT * FROM partitions", "max_rows": 3}`, 200); len(m["rows"].([]any)) != 3 || m["truncated"] != true {
		t.Errorf("capped %v", m)
	}
	for body, want := range map[string]string{
		`{"sql": "SELECT * FROM read_csv('/etc/passwd')"}`: "query:",
		`{"sql": "SELEC 1"}`:                           "syntax error",
		`{"sql": ""}`:                                  "sql is required",
		`{"sql": "SELECT 1", "max_rows": 0}`:           "max_rows 0 is out of range",
		`{"sql": "SELECT 1", "timeout_seconds": 1000}`: "timeout_seconds 1000 is out of range",
	} {
		if m := post("t0k", body, 400); !strings.Contains(m["error"].(string), want) {
			t.Errorf("%s: %v, want %q", body, m["error"], want)
		}
	}
	if m := post("t0k", `{"sql": "SELECT count(*) FROM range(100000000000)", "timeout_seconds": 0.1}`, 504); !strings.Contains(m["error"].(string), "timeout_seconds") {
		t.Errorf("past its timeout: %v", m)
	}
}
