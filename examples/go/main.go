// Command agent is a small agent loop on Memory Gateway: before each answer
// it recalls what the user said before, it remembers every turn, and at the
// end it commits the session and follows the commit's job to its end.
//
//	go run . (in the repository's root: the gateway, in dev mode)
//	go run . -url http://127.0.0.1:8080 (in examples/go)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	memorygateway "github.com/memory-gateway/memory-gateway/clients/go"
)

// conversation is what the user says, one message a turn.
var conversation = []string{
	"I grow tomatoes and basil on my balcony.",
	"Which of my plants need the most sun?",
	"Thanks! Remind me what I grow on the balcony?",
}

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "the gateway's base URL")
	workspace := flag.String("workspace", "demo", "workspace id")
	user := flag.String("user", "gardener", "user id")
	session := flag.String("session", fmt.Sprintf("garden-%d", time.Now().UnixNano()), "session id")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	// MEMORY_GATEWAY_KEY is the agent's API key; a gateway in dev mode needs none.
	client, err := memorygateway.New(*url, memorygateway.WithAPIKey(os.Getenv("MEMORY_GATEWAY_KEY")))
	if err != nil {
		fail(err)
	}
	a := agent{client: client, workspace: *workspace, user: *user, session: *session}
	if err := a.run(ctx); err != nil {
		fail(err)
	}
}

type agent struct {
	client                   *memorygateway.Client
	workspace, user, session string
	turns                    int
}

const (
	agentID   = "garden-helper"
	namespace = "garden"
)

func (a *agent) run(ctx context.Context) error {
	for _, message := range conversation {
		fmt.Printf("user:  %s\n", message)
		recalled, err := a.recall(ctx, message)
		if err != nil {
			return err
		}
		if err := a.remember(ctx, memorygateway.TurnRoleUser, message); err != nil {
			return err
		}
		answer := respond(message, recalled)
		fmt.Printf("agent: %s\n", answer)
		if err := a.remember(ctx, memorygateway.TurnRoleAssistant, answer); err != nil {
			return err
		}
	}

	payload, err := a.client.CommitSession(ctx, memorygateway.CommitSessionInput{
		WorkspaceId: a.workspace, UserId: a.user, AgentId: agentID, SessionId: a.session, Namespace: namespace,
	})
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	job, err := a.client.FollowJob(ctx, payload.Job.Id, func(u memorygateway.JobUpdate) {
		fmt.Printf("job %s: %s\n", u.ID, u.Status)
	})
	if err != nil {
		return fmt.Errorf("follow the commit: %w", err)
	}
	if job.Status != memorygateway.CommitJobStatusSuccess {
		return fmt.Errorf("the commit ended %s: %s", job.Status, job.ErrorMessage)
	}
	fmt.Printf("committed: %d memories created\n", job.CreatedRefsCount)
	return nil
}

// recall asks for what the user said before that shares words with message.
func (a *agent) recall(ctx context.Context, message string) ([]string, error) {
	got, err := a.client.RetrieveContext(ctx, memorygateway.RetrieveContextInput{
		WorkspaceId: a.workspace, UserId: a.user, AgentId: agentID,
		Namespace: memorygateway.Ptr(namespace), Query: message, Limit: memorygateway.Ptr(5),
	})
	if err != nil {
		return nil, fmt.Errorf("recall: %w", err)
	}
	texts := make([]string, 0, len(got.Items))
	for _, item := range got.Items {
		texts = append(texts, item.Text)
	}
	return texts, nil
}

// remember stores one turn; its id makes a retry store nothing twice.
func (a *agent) remember(ctx context.Context, role memorygateway.TurnRole, content string) error {
	a.turns++
	_, err := a.client.IngestTurn(ctx, memorygateway.IngestConversationTurnInput{
		WorkspaceId: a.workspace, UserId: a.user, AgentId: agentID, SessionId: a.session,
		TurnId: fmt.Sprintf("t%d", a.turns), Namespace: namespace, Role: role, Content: content,
	})
	if err != nil {
		return fmt.Errorf("remember turn %d: %w", a.turns, err)
	}
	return nil
}

// respond stands in for a model: it answers with what it recalled.
func respond(message string, recalled []string) string {
	if len(recalled) == 0 {
		return "Noted."
	}
	return fmt.Sprintf("You told me: %q.", strings.Join(recalled, " / "))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "agent:", err)
	os.Exit(1)
}
