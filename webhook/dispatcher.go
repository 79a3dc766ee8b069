package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// Defaults.
const (
	// TimeoutDefault bounds one attempt, response included.
	TimeoutDefault = 10 * time.Second
	// PollIntervalDefault is how often due deliveries are looked for.
	PollIntervalDefault = time.Second
	// ConcurrencyDefault is the attempts in flight at once.
	ConcurrencyDefault = 16
	// WorkspaceConcurrencyDefault is the most attempts of one workspace in
	// flight at once: a workspace whose endpoints hang holds a quarter of
	// the senders, and the other workspaces' deliveries go on.
	WorkspaceConcurrencyDefault = 4
	// BatchSizeDefault is the deliveries claimed at once.
	BatchSizeDefault = 64
	// leaseMargin is how much longer than an attempt its lease lasts.
	leaseMargin = 30 * time.Second
	// responseBodyLimit is the most of a response that is read (and
	// discarded) so the connection can be reused.
	responseBodyLimit = 64 << 10
	// userAgent names the sender.
	userAgent = "memory-gateway-webhooks/1"
)

// ScheduleDefault is the delay before each retry: seven retries over 27½
// hours, then the delivery is dead-lettered.
var ScheduleDefault = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// ParseSchedule reads WEBHOOK_RETRY_SCHEDULE: comma-separated durations.
func ParseSchedule(s string) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return ScheduleDefault, nil
	}
	var out []time.Duration
	for part := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("WEBHOOK_RETRY_SCHEDULE: %q is not a positive duration", part)
		}
		out = append(out, d)
	}
	return out, nil
}

// Store is what the dispatcher needs of the store.
type Store interface {
	ClaimWebhookDeliveries(ctx context.Context, workerID string, limit int, now, leaseUntil time.Time, share gateway.WebhookShare) ([]gateway.ClaimedWebhook, error)
	CompleteWebhookDelivery(ctx context.Context, a gateway.WebhookAttempt) (gateway.WebhookAttemptResult, error)
}

// Outcomes of an attempt, as metrics label them.
const (
	OutcomeSuccess    = "success"
	OutcomeRetry      = "retry"
	OutcomeDeadLetter = "dead_letter"
)

// Hooks observe deliveries; nil fields observe nothing.
type Hooks struct {
	// Attempted is called after each attempt with its outcome and how long
	// the request took.
	Attempted func(outcome string, took time.Duration)
	// Delivered is called on success with the time since the delivery was
	// written.
	Delivered func(sinceCreated time.Duration)
}

// Config tunes the dispatcher; zero fields take the defaults.
type Config struct {
	// Schedule is the delay before each retry; after the last one fails the
	// delivery is dead-lettered.
	Schedule     []time.Duration
	Timeout      time.Duration
	PollInterval time.Duration
	Concurrency  int
	// WorkspaceConcurrency caps one workspace's attempts in flight (at most
	// Concurrency).
	WorkspaceConcurrency int
	BatchSize            int
}

// Dispatcher sends due deliveries. Build it with New, then Start and Stop it.
// It claims only as many deliveries as it has free senders, so a slow
// endpoint holds one sender, not a batch, and no lease runs while waiting;
// and it claims in turns across workspaces, none beyond its share
// (WorkspaceConcurrency), so one tenant's slow endpoints cannot hold every
// sender.
type Dispatcher struct {
	store  Store
	client *http.Client
	cfg    Config
	logger *slog.Logger
	now    func() time.Time
	hooks  Hooks
	id     string

	// freed tells the loop a sender finished (one is free again).
	freed chan struct{}

	// inFlight counts the attempts in flight by workspace.
	inFlightMu sync.Mutex
	inFlight   map[string]int

	mu sync.Mutex
	// stopClaiming ends the claim loop; abortSends ends attempts in flight.
	stopClaiming context.CancelFunc
	abortSends   context.CancelFunc
	done         chan struct{}
}

var _ lifecycle.Component = (*Dispatcher)(nil)

// New builds a dispatcher that reaches endpoints only through guard.
func New(store Store, guard *Guard, cfg Config, env lifecycle.Env, hooks Hooks) (*Dispatcher, error) {
	if store == nil || guard == nil {
		return nil, errors.New("webhook: a store and a guard are required")
	}
	if cfg.Schedule == nil {
		cfg.Schedule = ScheduleDefault
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = TimeoutDefault
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = PollIntervalDefault
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = ConcurrencyDefault
	}
	if cfg.WorkspaceConcurrency <= 0 {
		cfg.WorkspaceConcurrency = WorkspaceConcurrencyDefault
	}
	cfg.WorkspaceConcurrency = min(cfg.WorkspaceConcurrency, cfg.Concurrency)
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = BatchSizeDefault
	}
	host, _ := os.Hostname()
	transport := &http.Transport{
		// Never through a proxy from the environment: the guard must see
		// the real destination.
		Proxy:                 nil,
		DialContext:           guard.DialContext,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// A redirect could lead anywhere; it counts as a failed attempt.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Dispatcher{
		store: store, client: client, cfg: cfg, logger: env.Logger(), now: env.Clock(), hooks: hooks,
		id:    fmt.Sprintf("webhooks-%s-%d-%s", host, os.Getpid(), strconv.FormatInt(time.Now().UnixNano(), 36)),
		freed: make(chan struct{}, 1), inFlight: map[string]int{},
	}, nil
}

// Start launches the send loop.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done != nil {
		return fmt.Errorf("webhook: %w", lifecycle.ErrStarted)
	}
	base := context.WithoutCancel(ctx)
	claimCtx, stopClaiming := context.WithCancel(base)
	sendCtx, abortSends := context.WithCancel(base)
	d.stopClaiming, d.abortSends, d.done = stopClaiming, abortSends, make(chan struct{})
	go d.run(claimCtx, sendCtx)
	return nil
}

// Stop stops claiming and gives attempts in flight until ctx is done to
// finish; an attempt cut short keeps its lease, which runs out, and the
// delivery is sent again.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.mu.Lock()
	stopClaiming, abortSends, done := d.stopClaiming, d.abortSends, d.done
	d.mu.Unlock()
	if done == nil {
		return nil
	}
	stopClaiming()
	select {
	case <-done:
		abortSends()
		return nil
	case <-ctx.Done():
		abortSends()
		<-done
		return ctx.Err()
	}
}

func (d *Dispatcher) run(claimCtx, sendCtx context.Context) {
	defer close(d.done)
	busy := make(chan struct{}, d.cfg.Concurrency) // one token per attempt in flight
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-claimCtx.Done():
			return
		case <-timer.C:
		case <-d.freed:
		}
		free := d.cfg.Concurrency - len(busy)
		if free == 0 {
			continue // a sender that finishes says so on freed
		}
		limit := min(free, d.cfg.BatchSize)
		now := d.now()
		share := gateway.WebhookShare{PerWorkspace: d.cfg.WorkspaceConcurrency, InFlight: d.inFlightNow()}
		claimed, err := d.store.ClaimWebhookDeliveries(claimCtx, d.id, limit, now, now.Add(d.cfg.Timeout+leaseMargin), share)
		if err != nil && claimCtx.Err() == nil {
			d.logger.WarnContext(claimCtx, "webhook: claiming deliveries failed", slog.String("err", err.Error()))
		}
		for _, c := range claimed {
			busy <- struct{}{}
			ws := c.Delivery.WorkspaceID
			d.countInFlight(ws, 1)
			wg.Go(func() {
				defer func() {
					d.countInFlight(ws, -1)
					<-busy
					select {
					case d.freed <- struct{}{}:
					default:
					}
				}()
				d.deliver(sendCtx, c)
			})
		}
		next := d.cfg.PollInterval
		if len(claimed) == limit {
			next = 0 // more may be due
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

// inFlightNow is a copy of the attempts in flight by workspace.
func (d *Dispatcher) inFlightNow() map[string]int {
	d.inFlightMu.Lock()
	defer d.inFlightMu.Unlock()
	return maps.Clone(d.inFlight)
}

// countInFlight adds delta to ws's attempts in flight.
func (d *Dispatcher) countInFlight(ws string, delta int) {
	d.inFlightMu.Lock()
	defer d.inFlightMu.Unlock()
	if d.inFlight[ws] += delta; d.inFlight[ws] <= 0 {
		delete(d.inFlight, ws)
	}
}

// ErrorNotDelivered is what every failed attempt records (lastError), but a
// refusal: whether nothing answered (a DNS failure, a refused or reset
// connection, a timeout) or something answered other than 2xx. A tenant's
// admin reads it, and telling these apart would let one map the ports of any
// host the operator allows (a closed port refuses, a listening one answers).
// The detail goes to the server's log.
const ErrorNotDelivered = "could not deliver: no 2xx response"

// deliver makes one attempt and records it under its lease.
func (d *Dispatcher) deliver(ctx context.Context, c gateway.ClaimedWebhook) {
	del := c.Delivery
	start := d.now()
	code, err := d.send(ctx, c, start)
	took := d.now().Sub(start)
	if ctx.Err() != nil {
		return // stopping: the lease runs out and the delivery is sent again
	}
	at := d.now()
	attempt := gateway.WebhookAttempt{DeliveryID: del.ID, FenceWorker: d.id, FenceClaim: del.ClaimCount, At: at}
	outcome := OutcomeSuccess
	switch {
	case err == nil:
		attempt.Status, attempt.StatusCode = gateway.WebhookSuccess, &code
	case del.AttemptCount <= len(d.cfg.Schedule):
		outcome = OutcomeRetry
		// From the attempt's deadline, not its end: when it ended tells
		// whether something answered or the timeout did.
		next := start.Add(d.cfg.Timeout + d.cfg.Schedule[max(del.AttemptCount-1, 0)])
		attempt.Status, attempt.NextRetryAt = gateway.WebhookPending, &next
	default:
		outcome = OutcomeDeadLetter
		attempt.Status = gateway.WebhookDeadLetter
	}
	if err != nil {
		msg := ErrorNotDelivered
		var refused *RefusedError
		if errors.As(err, &refused) {
			msg = refused.Error()
		}
		attempt.Error = &msg
	}
	res, cerr := d.store.CompleteWebhookDelivery(context.WithoutCancel(ctx), attempt)
	if cerr != nil {
		d.logger.WarnContext(ctx, "webhook: recording an attempt failed; the lease will run out and the delivery is sent again",
			slog.String("delivery_id", del.ID), slog.String("err", cerr.Error()))
		return
	}
	if !res.Landed {
		d.logger.InfoContext(ctx, "webhook: an attempt's lease had been taken over; its outcome was dropped", slog.String("delivery_id", del.ID))
		return
	}
	if d.hooks.Attempted != nil {
		d.hooks.Attempted(outcome, took)
	}
	if outcome == OutcomeSuccess && d.hooks.Delivered != nil {
		d.hooks.Delivered(at.Sub(del.CreatedAt))
	}
	level := slog.LevelDebug
	if outcome != OutcomeSuccess {
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{slog.String("delivery_id", del.ID), slog.String("endpoint_id", del.EndpointID),
		slog.String("workspace_id", del.WorkspaceID), slog.String("outcome", outcome), slog.Int("attempt", del.AttemptCount)}
	if code != 0 {
		attrs = append(attrs, slog.Int("status_code", code))
	}
	if err != nil {
		attrs = append(attrs, detail(err))
	}
	d.logger.LogAttrs(ctx, level, "webhook: delivery attempted", attrs...)
	if res.Disabled {
		d.logger.WarnContext(ctx, "webhook: endpoint disabled after repeated dead letters", slog.String("endpoint_id", del.EndpointID))
	}
}

// send posts the signed payload; a 2xx answer is success. It returns the
// status code (0 when there was none) and, on failure, the detail for the
// log.
func (d *Dispatcher) send(ctx context.Context, c gateway.ClaimedWebhook, at time.Time) (int, error) {
	body := []byte(c.Delivery.Payload)
	sig, err := Sign(c.Secrets, c.Delivery.ID, at, body)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("the endpoint's URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, c.Delivery.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, responseBodyLimit))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the endpoint answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// detail is a failed attempt's error for the log: a refusal with what it
// refused, anything else without the URL, which may carry a token in its
// query.
func detail(err error) slog.Attr {
	var refused *RefusedError
	if errors.As(err, &refused) {
		return slog.Any("refused", refused)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return slog.String("err", err.Error())
}
