package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/weir-dev/weir/internal/urlredact"
	"github.com/weir-dev/weir/scheduler"
)

// Client reads a running `weir serve --http`'s API: what a command line
// asks it instead of opening the state store. The server keeps its
// connections to the store open, so an answer costs a request instead of
// a new database session (a PostgreSQL backend starting cold, each first
// statement planned anew).
type Client struct {
	base  *url.URL
	token string
	// HTTP sends the requests; http.DefaultClient if nil. Its Timeout, if
	// set, also ends Follow's stream.
	HTTP *http.Client
}

// NewClient returns a client of the API served at base: the address
// `weir serve --http ADDR` listens on, as http://ADDR or https://HOST.
// token, if set, goes with every request as a bearer token.
func NewClient(base, token string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("API address %q is not http://HOST:PORT or https://HOST (the address weir serve --http listens on)", urlredact.URL(base))
	}
	if u.User != nil {
		return nil, fmt.Errorf("API address %q carries credentials; give the token in WEIR_TOKEN instead", urlredact.URL(base))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, token: token}, nil
}

// Error is an answer of the API other than a success: its status code
// and the message of its {"error": ...} body.
type Error struct {
	// Method and URL are the request's.
	Method, URL string
	// Status is the HTTP status code.
	Status int
	// Message is what the API said.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.Status, http.StatusText(e.Status), e.Message)
}

// IsNotFound reports whether err is the API's answer that what was asked
// for does not exist.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// Run returns a run's progress (GET /api/v1/runs/{id}).
func (c *Client) Run(ctx context.Context, id int64) (*scheduler.Progress, error) {
	return c.progress(ctx, "/api/v1/runs/"+strconv.FormatInt(id, 10))
}

// Backfill returns a backfill's progress (GET /api/v1/backfills/{id});
// a run that is not a backfill is not found.
func (c *Client) Backfill(ctx context.Context, id int64) (*scheduler.Progress, error) {
	return c.progress(ctx, "/api/v1/backfills/"+strconv.FormatInt(id, 10))
}

func (c *Client) progress(ctx context.Context, path string) (*scheduler.Progress, error) {
	resp, err := c.get(ctx, path, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var p scheduler.Progress
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return nil, fmt.Errorf("GET %s: the answer is not a run's progress: %w", c.url(path), err)
	}
	return &p, nil
}

// FollowBackfill calls fn with a backfill's progress each time it changes
// (GET /api/v1/backfills/{id}/events) until the backfill ends (fn's end is
// true: the last call), fn returns an error, or ctx ends. A paused or
// tripped backfill is followed until it is resumed and ends.
func (c *Client) FollowBackfill(ctx context.Context, id int64, fn func(p *scheduler.Progress, end bool) error) error {
	path := "/api/v1/backfills/" + strconv.FormatInt(id, 10) + "/events"
	resp, err := c.get(ctx, path, "text/event-stream")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20) // one event's data is a line: a run of many assets is long
	var event string
	var data bytes.Buffer
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0: // an event ends at a blank line
			if event == "" && data.Len() == 0 {
				continue
			}
			if err := c.dispatch(path, event, data.Bytes(), fn); err != nil {
				return err
			}
			if event == "end" {
				return nil
			}
			event = ""
			data.Reset()
		case line[0] == ':': // a comment: the server is alive
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "event":
				event = string(value)
			case "data":
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.Write(value)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("GET %s: the stream broke: %w", c.url(path), err)
	}
	return fmt.Errorf("GET %s: the stream ended before the backfill did (the server stopped?)", c.url(path))
}

// dispatch hands one server-sent event to fn.
func (c *Client) dispatch(path, event string, data []byte, fn func(*scheduler.Progress, bool) error) error {
	switch event {
	case "progress", "end":
		var p scheduler.Progress
		if err := json.Unmarshal(data, &p); err != nil {
			return fmt.Errorf("GET %s: event %q is not a run's progress: %w", c.url(path), event, err)
		}
		return fn(&p, event == "end")
	case "error":
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(data, &e)
		return &Error{Method: http.MethodGet, URL: c.url(path), Status: http.StatusInternalServerError, Message: e.Error}
	}
	return nil // an event this client does not know: a newer server
}

// get sends a GET and returns a successful response; any other answer is
// an *Error.
func (c *Client) get(ctx context.Context, path, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is said below, once
		}
		return nil, fmt.Errorf("cannot reach the weir API at %s: %w", c.base.Redacted(), err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(body))
		if e.Error == "" || len(e.Error) > 200 {
			e.Error = "not an answer of weir's API (is this the address weir serve --http listens on?)"
		}
	}
	return nil, &Error{Method: http.MethodGet, URL: c.url(path), Status: resp.StatusCode, Message: e.Error}
}

func (c *Client) url(path string) string { return c.base.Redacted() + path }
