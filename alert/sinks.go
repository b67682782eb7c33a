package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/weir-dev/weir/internal/urlredact"
)

// Sink delivers events.
type Sink interface {
	// Send delivers e, or says why not; it is retried with backoff.
	Send(ctx context.Context, e Event) error
	// Validate says what is wrong with the sink's configuration.
	Validate() error
	// String describes the sink without its secrets.
	String() string
}

// Webhook POSTs each event as JSON. With a Secret, the body is signed:
// the Weir-Signature header is "sha256=" and the hex HMAC-SHA256 of the
// body under Secret. Weir-Event-Id is the event's id, the same for a
// redelivery.
type Webhook struct {
	URL    string
	Secret string
	// Client defaults to one with a 10 s timeout.
	Client *http.Client
}

// Slack posts each event as the text of a Slack (or compatible)
// incoming-webhook message.
type Slack struct {
	URL    string
	Client *http.Client
}

// Command runs Argv with the event as JSON on stdin; a non-zero exit is a
// failed delivery.
type Command struct {
	Argv []string
}

var defaultClient = &http.Client{Timeout: 10e9}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("URL %q is not an http:// or https:// URL", urlredact.URL(raw))
	}
	return nil
}

// Validate checks the URL.
func (w *Webhook) Validate() error { return checkHTTPURL(w.URL) }

func (w *Webhook) String() string { return "webhook " + urlredact.URL(w.URL) }

// Send posts e.
func (w *Webhook) Send(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	h := http.Header{"Content-Type": {"application/json"}, "Weir-Event-Id": {e.ID}}
	if w.Secret != "" {
		mac := hmac.New(sha256.New, []byte(w.Secret))
		mac.Write(body)
		h.Set("Weir-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	return post(ctx, w.Client, w.URL, h, body)
}

// Validate checks the URL.
func (s *Slack) Validate() error { return checkHTTPURL(s.URL) }

func (s *Slack) String() string { return "slack " + urlredact.URL(s.URL) }

// Send posts e as a message.
func (s *Slack) Send(ctx context.Context, e Event) error {
	body, err := json.Marshal(map[string]string{"text": Text(e)})
	if err != nil {
		return err
	}
	return post(ctx, s.Client, s.URL, http.Header{"Content-Type": {"application/json"}}, body)
}

// Text is an event as one line for people: severity, kind, message.
func Text(e Event) string {
	return fmt.Sprintf("[%s] %s: %s", e.Severity, e.Kind, e.Message)
}

func post(ctx context.Context, c *http.Client, u string, h http.Header, body []byte) error {
	if c == nil {
		c = defaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return errors.New(urlredact.Text(err.Error()))
	}
	req.Header = h
	resp, err := c.Do(req)
	if err != nil {
		return errors.New(urlredact.Text(err.Error()))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s: %s", urlredact.URL(u), resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Validate checks that there is a command.
func (c *Command) Validate() error {
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return errors.New("command is empty")
	}
	return nil
}

func (c *Command) String() string { return "command " + strings.Join(c.Argv, " ") }

// Send runs the command with e on stdin.
func (c *Command) Send(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", c.Argv[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// File appends each event as a line of JSON to Path (creating it and its
// directory): a log of alerts to tail, or to test with.
type File struct {
	Path string
}

// Validate checks that there is a path.
func (f *File) Validate() error {
	if f.Path == "" {
		return errors.New("file path is empty")
	}
	return nil
}

func (f *File) String() string { return "file " + f.Path }

// Send appends e.
func (f *File) Send(_ context.Context, e Event) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		return err
	}
	w, err := os.OpenFile(f.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(line, '\n')); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
