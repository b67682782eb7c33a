// Package urlredact hides the secrets a URL can carry (a password in its
// user info, credentials in its query) before it reaches a log line, an
// error or the terminal.
package urlredact

import (
	"net/url"
	"regexp"
	"strings"
)

// secretParams are query parameters that carry credentials (pgx's
// password and sslpassword, cloud SDKs' keys and tokens).
var secretParams = []string{"password", "sslpassword", "secret", "token", "key", "signature", "sig", "credential"}

// userinfo matches "//user:password@" in a string that is not a valid URL.
var userinfo = regexp.MustCompile(`//([^/@:]*):[^/@]*@`)

// URL returns raw with its password and secret query values replaced by
// "xxxxx".
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return userinfo.ReplaceAllString(raw, "//$1:xxxxx@")
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k := range q {
			if isSecret(k) {
				q.Set(k, "xxxxx")
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

func isSecret(param string) bool {
	p := strings.ToLower(param)
	for _, s := range secretParams {
		if strings.Contains(p, s) {
			return true
		}
	}
	return false
}

// inText matches the user info of a URL inside free text.
var inText = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s/@:'"]*):[^\s/@'"]*@`)

// queryInText matches a secret query parameter inside free text: a name
// holding one of secretParams, as URL judges them.
var queryInText = regexp.MustCompile(`(?i)([?&](?:[a-z_]*(?:` + strings.Join(secretParams, "|") + `)[a-z_]*)=)[^&\s'"]*`)

// Text hides the passwords of URLs inside free text, an error message or
// a log line, and the values of secret query parameters.
func Text(s string) string {
	s = inText.ReplaceAllString(s, "$1:xxxxx@")
	return queryInText.ReplaceAllString(s, "${1}xxxxx")
}
