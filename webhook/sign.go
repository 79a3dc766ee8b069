// Package webhook sends a workspace's changes to its webhook endpoints:
// signed as the Standard Webhooks specification says
// (github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md),
// delivered at least once with retries over about a day, and never to an
// address the gateway must not reach.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Headers of a signed delivery.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Sign returns the webhook-signature header value for one message: a
// space-separated "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret
// (two while a rotated secret's grace lasts).
func Sign(secrets []string, id string, at time.Time, body []byte) (string, error) {
	ts := strconv.FormatInt(at.Unix(), 10)
	sigs := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, gateway.WebhookSecretPrefix))
		if err != nil {
			return "", fmt.Errorf("webhook: a signing secret is not base64: %w", err)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}
