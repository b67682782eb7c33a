package sqlstore

import "testing"

func TestNumberPlaceholders(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT ? , ?", "SELECT $1 , $2"},
		{"SELECT '?' , ?", "SELECT '?' , $1"},
		{"SELECT 'it''s ?', ? FROM \"odd?name\" WHERE x = ?", "SELECT 'it''s ?', $1 FROM \"odd?name\" WHERE x = $2"},
		{"UPDATE t SET a = ?, b = 'x' WHERE c IN (?,?)", "UPDATE t SET a = $1, b = 'x' WHERE c IN ($2,$3)"},
	} {
		if got := numberPlaceholders(tc.in); got != tc.want {
			t.Errorf("numberPlaceholders(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
