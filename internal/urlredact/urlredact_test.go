package urlredact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:secret@db:5432/x?search_path=s", "postgres://u:xxxxx@db:5432/x?search_path=s"},
		{"postgres://u@db/x?password=secret&sslmode=disable", "postgres://u@db/x?password=xxxxx&sslmode=disable"},
		{"s3://bucket?region=eu&aws_secret_access_key=secret", "s3://bucket?aws_secret_access_key=xxxxx&region=eu"},
		{"sqlite://.weir/state.db", "sqlite://.weir/state.db"},
		{"postgres://u:secret@db:99999999/%zz", "postgres://u:xxxxx@db:99999999/%zz"},
	} {
		got := URL(tc.in)
		if got != tc.want || strings.Contains(got, "secret@") || strings.Contains(got, "=secret") {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestText(t *testing.T) {
	in := `connect to postgres://app:s3cr3t@db:5432/shop failed; retry "mysql://root:pw@10.0.0.1/x" and https://h/x?sig=abc&password=hunter2`
	got := Text(in)
	for _, secret := range []string{"s3cr3t", "root:pw", "hunter2"} {
		if strings.Contains(got, secret) {
			t.Errorf("Text kept %q: %s", secret, got)
		}
	}
	if !strings.Contains(got, "postgres://app:xxxxx@db:5432/shop") || !strings.Contains(got, "password=xxxxx") {
		t.Errorf("Text(%q) = %q", in, got)
	}
}
