package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/lifecycle/lifecycletest"
)

func TestServerIsAComponent(t *testing.T) {
	t.Parallel()
	lifecycletest.Check(t, func() lifecycle.Component {
		return NewServer(ServerConfig{Addr: "127.0.0.1:0"}, http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	})
}

// TestServerShutsDownStreams: Stop ends what OnShutdown ends (streams are
// never idle) and lets a request in flight finish.
func TestServerShutsDownStreams(t *testing.T) {
	t.Parallel()
	streams, closeStreams := context.WithCancel(context.Background())
	entered := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-streams.Done()
		_, _ = io.WriteString(w, "ended")
	})
	s := NewServer(ServerConfig{Addr: "127.0.0.1:0", OnShutdown: closeStreams}, handler, slog.New(slog.DiscardHandler))
	require.NoError(t, s.Start(context.Background()))
	answered := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + s.Addr() + "/")
		if err != nil {
			answered <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		answered <- string(body)
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(ctx))
	require.Equal(t, "ended", <-answered)
}
