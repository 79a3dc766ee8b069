package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// GraphQL transport constants.
const (
	graphqlPath          = "/graphql"
	transportWSProtocol  = "graphql-transport-ws"
	httpRequestTimeout   = 30 * time.Second
	idleConnsPerHost     = 256
	maxErrorBodyBytes    = 512
	wsConnectionInitWait = 10 * time.Second
)

// typenameQuery is the trivial query whose round trip is the baseline of
// request latencies.
const typenameQuery = `{ __typename }`

// gqlClient posts GraphQL operations over HTTP.
type gqlClient struct {
	http     *http.Client
	endpoint string
}

func newGQLClient(base string) *gqlClient {
	transport := &http.Transport{
		MaxIdleConns:        idleConnsPerHost,
		MaxIdleConnsPerHost: idleConnsPerHost,
		IdleConnTimeout:     time.Minute,
	}
	return &gqlClient{http: &http.Client{Transport: transport, Timeout: httpRequestTimeout}, endpoint: base + graphqlPath}
}

type gqlRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables,omitempty"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions struct {
		Statements *int64 `json:"statements"`
	} `json:"extensions"`
}

func (r gqlResponse) err() error {
	if len(r.Errors) == 0 {
		return nil
	}
	msgs := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		msgs[i] = e.Message
		if code, ok := e.Extensions["code"]; ok {
			msgs[i] += fmt.Sprintf(" (%v)", code)
		}
	}
	return fmt.Errorf("graphql: %s", strings.Join(msgs, "; "))
}

// do runs one operation and decodes its data into data (may be nil).
func (c *gqlClient) do(ctx context.Context, query string, vars map[string]any, data any) error {
	body, err := json.Marshal(gqlRequest{Query: query, Variables: vars})
	if err != nil {
		return fmt.Errorf("error encoding a GraphQL request: %w", err)
	}
	_, err = c.send(ctx, body, data, false)
	return err
}

// doCounted runs an operation and returns the SQL statements it cost, as
// the server counts them for the request (its statements extension).
func (c *gqlClient) doCounted(ctx context.Context, query string, vars map[string]any, data any) (int64, error) {
	body, err := json.Marshal(gqlRequest{Query: query, Variables: vars})
	if err != nil {
		return 0, fmt.Errorf("error encoding a GraphQL request: %w", err)
	}
	return c.send(ctx, body, data, true)
}

// statementsHeader asks the server to report the statements a request cost.
const statementsHeader = "Memory-Gateway-Statements"

func (c *gqlClient) send(ctx context.Context, body []byte, data any, countStatements bool) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("error building a GraphQL request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json")
	if countStatements {
		req.Header.Set(statementsHeader, "count")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("error posting to %s: %w", c.endpoint, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("error reading a GraphQL response: %w", err)
	}
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return 0, fmt.Errorf("status %s, undecodable body %q: %w", resp.Status, truncate(raw), err)
	}
	if err := out.err(); err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %s: %q", resp.Status, truncate(raw))
	}
	if data != nil {
		if err := json.Unmarshal(out.Data, data); err != nil {
			return 0, fmt.Errorf("error decoding GraphQL data: %w", err)
		}
	}
	if countStatements {
		if out.Extensions.Statements == nil {
			return 0, fmt.Errorf("the server reported no statement count (extensions.statements)")
		}
		return *out.Extensions.Statements, nil
	}
	return 0, nil
}

func truncate(raw []byte) string {
	if len(raw) > maxErrorBodyBytes {
		return string(raw[:maxErrorBodyBytes]) + "…"
	}
	return string(raw)
}

// timeTypename measures the round trip of { __typename }.
func (c *gqlClient) timeTypename(ctx context.Context) (time.Duration, error) {
	started := time.Now()
	if err := c.do(ctx, typenameQuery, nil, nil); err != nil {
		return 0, err
	}
	return time.Since(started), nil
}

// wsMessage is one graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// graphql-transport-ws message types.
const (
	wsConnectionInit = "connection_init"
	wsConnectionAck  = "connection_ack"
	wsPing           = "ping"
	wsPong           = "pong"
	wsSubscribe      = "subscribe"
	wsNext           = "next"
	wsError          = "error"
	wsComplete       = "complete"
)

// wsConn is one graphql-transport-ws connection. Reads (read, next,
// nextJob) must be made from one goroutine; subscribe may be called from
// any.
type wsConn struct {
	c *websocket.Conn
	// frame holds the last frame read, reused: a thousand readers share the
	// machine with the servers they measure, so each reads lightly.
	frame bytes.Buffer
}

// dialWS opens a websocket on /graphql and completes the handshake.
func dialWS(ctx context.Context, base string) (*wsConn, error) {
	url := "ws" + strings.TrimPrefix(base, "http") + graphqlPath
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{transportWSProtocol}})
	if err != nil {
		return nil, fmt.Errorf("error opening a websocket to %s: %w", url, err)
	}
	w := &wsConn{c: c}
	if c.Subprotocol() != transportWSProtocol {
		w.close()
		return nil, fmt.Errorf("server chose subprotocol %q, want %q", c.Subprotocol(), transportWSProtocol)
	}
	if err := w.send(ctx, wsMessage{Type: wsConnectionInit, Payload: json.RawMessage(`{}`)}); err != nil {
		w.close()
		return nil, err
	}
	initCtx, cancel := context.WithTimeout(ctx, wsConnectionInitWait)
	defer cancel()
	for {
		m, err := w.read(initCtx)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("error waiting for connection_ack: %w", err)
		}
		if m.Type == wsConnectionAck {
			return w, nil
		}
	}
}

func (w *wsConn) send(ctx context.Context, m wsMessage) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("error encoding a websocket message: %w", err)
	}
	if err := w.c.Write(ctx, websocket.MessageText, raw); err != nil {
		return fmt.Errorf("error writing a websocket message: %w", err)
	}
	return nil
}

// subscribe starts a subscription under id.
func (w *wsConn) subscribe(ctx context.Context, id, query string, vars map[string]any) error {
	payload, err := json.Marshal(gqlRequest{Query: query, Variables: vars})
	if err != nil {
		return fmt.Errorf("error encoding a subscription: %w", err)
	}
	return w.send(ctx, wsMessage{ID: id, Type: wsSubscribe, Payload: payload})
}

// readFrame reads the next frame into w.frame and says when it arrived:
// receipt is stamped before any decoding, so a sample is the delivery, not
// the reader's work after it. The bytes are valid until the next read.
func (w *wsConn) readFrame(ctx context.Context) ([]byte, time.Time, error) {
	_, r, err := w.c.Reader(ctx)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("error reading a websocket message: %w", err)
	}
	w.frame.Reset()
	if _, err := w.frame.ReadFrom(r); err != nil {
		return nil, time.Time{}, fmt.Errorf("error reading a websocket message: %w", err)
	}
	return w.frame.Bytes(), time.Now(), nil
}

// read returns the next message, answering pings on the way.
func (w *wsConn) read(ctx context.Context) (wsMessage, error) {
	m, _, err := w.readMessage(ctx)
	return m, err
}

// readMessage is read with the time the message arrived.
func (w *wsConn) readMessage(ctx context.Context) (wsMessage, time.Time, error) {
	for {
		raw, received, err := w.readFrame(ctx)
		if err != nil {
			return wsMessage{}, time.Time{}, err
		}
		m, err := w.decode(ctx, raw)
		if err != nil {
			return wsMessage{}, time.Time{}, err
		}
		if m.Type != wsPing {
			return m, received, nil
		}
	}
}

// decode decodes a frame into a message (its payload a copy), answering a
// ping.
func (w *wsConn) decode(ctx context.Context, raw []byte) (wsMessage, error) {
	var m wsMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return wsMessage{}, fmt.Errorf("error decoding a websocket message %q: %w", truncate(raw), err)
	}
	if m.Type == wsPing {
		if err := w.send(ctx, wsMessage{Type: wsPong}); err != nil {
			return wsMessage{}, err
		}
	}
	return m, nil
}

// next returns the next next/error/complete message with the time it
// arrived.
func (w *wsConn) next(ctx context.Context) (wsMessage, time.Time, error) {
	for {
		m, received, err := w.readMessage(ctx)
		if err != nil {
			return m, time.Time{}, err
		}
		switch m.Type {
		case wsNext, wsComplete:
			return m, received, nil
		case wsError:
			return m, received, fmt.Errorf("subscription %s failed: %s", m.ID, truncate(m.Payload))
		}
	}
}

// jobsDelivery is a next message of a commitJobsUpdated subscription,
// decoded in one pass.
type jobsDelivery struct {
	Type    string `json:"type"`
	Payload struct {
		Data struct {
			Job *jobState `json:"commitJobsUpdated"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	} `json:"payload"`
}

// nextJob returns the next job state of a commitJobsUpdated subscription
// with the time it arrived. A frame that is not one (a ping, another
// message, a malformed one) takes next's path, and its error if any.
func (w *wsConn) nextJob(ctx context.Context) (jobState, time.Time, error) {
	for {
		raw, received, err := w.readFrame(ctx)
		if err != nil {
			return jobState{}, time.Time{}, err
		}
		var d jobsDelivery
		if json.Unmarshal(raw, &d) == nil && d.Type == wsNext && len(d.Payload.Errors) == 0 && d.Payload.Data.Job != nil {
			return *d.Payload.Data.Job, received, nil
		}
		m, err := w.decode(ctx, raw)
		if err != nil {
			return jobState{}, time.Time{}, err
		}
		switch m.Type {
		case wsNext:
			job, err := decodeJob(m.Payload, jobsUpdatedField)
			return job, received, err
		case wsError:
			return jobState{}, received, fmt.Errorf("subscription %s failed: %s", m.ID, truncate(m.Payload))
		}
	}
}

func (w *wsConn) close() { _ = w.c.CloseNow() }

// jobState is what subscriptions select of a commit job.
type jobState struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	SessionID string    `json:"sessionId"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// terminal reports whether a job status (GraphQL spelling) is final.
func terminal(status string) bool {
	return status == "SUCCESS" || status == "PARTIAL_SUCCESS" || status == "FAILED"
}

// decodeJob reads a subscription payload {data: {<field>: job}}.
func decodeJob(payload json.RawMessage, field string) (jobState, error) {
	var resp struct {
		Data   map[string]jobState `json:"data"`
		Errors []gqlError          `json:"errors"`
	}
	if err := json.Unmarshal(payload, &resp); err != nil {
		return jobState{}, fmt.Errorf("error decoding a subscription payload: %w", err)
	}
	if err := (gqlResponse{Errors: resp.Errors}).err(); err != nil {
		return jobState{}, err
	}
	job, ok := resp.Data[field]
	if !ok {
		return jobState{}, errors.New("subscription payload without " + field)
	}
	return job, nil
}
