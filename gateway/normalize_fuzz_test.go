package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

func FuzzNormalizeTurn(f *testing.F) {
	f.Add("ws", "u", "a", "s", "t", " /team/alpha/ ", "user", "  hello  ", "key")
	f.Add("", "", "", "", "", "//", "boss", "", "")
	f.Add("w\x00s", "u u", " a", "s\t", "t\n", "a//b", "tool", "\xff", strings.Repeat("k", 300))
	s, err := NewService(Options{Store: nopStore{}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ws, user, agent, session, turnID, namespace, role, content, key string) {
		got, err := s.normalizeTurn(IngestTurnInput{
			WorkspaceID: ws, UserID: user, AgentID: agent, SessionID: session, TurnID: turnID,
			Namespace: namespace, Role: backendtype.Role(role), Content: content, IdempotencyKey: key,
		})
		if err != nil {
			if _, ok := err.(*InputError); !ok {
				t.Fatalf("a bad input must be an *InputError, got %T %v", err, err)
			}
			return
		}
		switch {
		case got.Namespace == "" || strings.HasPrefix(got.Namespace, "/") || strings.HasSuffix(got.Namespace, "/"):
			t.Fatalf("namespace %q not normalised", got.Namespace)
		case got.Content == "" || strings.TrimSpace(got.Content) != got.Content || !utf8.ValidString(got.Content):
			t.Fatalf("content %q not normalised", got.Content)
		case !strings.HasPrefix(got.gatewayID, PrefixGateway) || len(got.gatewayID) != len(PrefixGateway)+24:
			t.Fatalf("gateway id %q", got.gatewayID)
		}
	})
}

// nopStore satisfies Store for tests that never reach it.
type nopStore struct{ Store }
