package openviking

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Error codes of commits whose task did not complete.
const (
	// ErrorCodeTaskLost: the task record is gone (OpenViking forgets
	// completed tasks after 24 h and failed ones after 7 d,
	// openviking/service/task_tracker.py:251-326) and the archive holds no
	// memory diff yet.
	ErrorCodeTaskLost = "task_lost"
	// ErrorCodeTaskDeadline: the task ran past Config.TaskDeadline.
	ErrorCodeTaskDeadline = "task_deadline"
)

// commitState is what the outbox event remembers between attempts. A
// commit is never started twice: once the archive exists its messages are
// archived, and a second commit would answer "skipped" and lose them.
type commitState struct {
	TaskID     string
	ArchiveURI string
	Polls      int
	Since      time.Time
}

func loadState(md backendtype.Metadata) commitState {
	raw, _ := md["backend_state"].(map[string]any)
	var s commitState
	s.TaskID, _ = raw["task_id"].(string)
	s.ArchiveURI, _ = raw["archive_uri"].(string)
	s.Polls = int(number(raw["polls"]))
	if since := number(raw["since_unix_ms"]); since > 0 {
		s.Since = time.UnixMilli(int64(since))
	}
	return s
}

func (s commitState) metadata() backendtype.Metadata {
	return backendtype.Metadata{"task_id": s.TaskID, "archive_uri": s.ArchiveURI, "polls": s.Polls, "since_unix_ms": s.Since.UnixMilli()}
}

func number(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case json.Number:
		f, _ := n.Float64()
		return f
	}
	return 0
}

// CommitSession implements backendtype.SessionCommitter. The first attempt
// starts the commit (POST …/commit: the session's messages are archived at
// once and a session_commit task extracts memories); while the task runs
// the event is rescheduled with growing delays; once it completed, its
// memory diff becomes the refs: the archive plus one ref per added or
// updated memory, and the diff's deletes retire the refs of what extraction
// removed. A task that is lost, failed, cancelled or past its deadline is
// never committed again: its archive's memory_diff.json is read instead.
func (b *Backend) CommitSession(ctx context.Context, req backendtype.CommitRequest) (backendtype.CommitResult, error) {
	state := loadState(req.Metadata)
	if state.TaskID == "" && state.ArchiveURI == "" {
		return b.startCommit(ctx, req)
	}
	return b.pollCommit(ctx, req, state)
}

type commitAnswer struct {
	Status     string  `json:"status"`
	TaskID     *string `json:"task_id"`
	ArchiveURI *string `json:"archive_uri"`
	Archived   bool    `json:"archived"`
	Reason     string  `json:"reason"`
}

// startCommit: an unknown session is 404 (openviking/service/session_service.py:285-309);
// "skipped" has reasons no_messages and all_within_keep_window
// (openviking/session/session.py:1971-2046); "accepted" names the task and
// the archive (:2176-2188).
func (b *Backend) startCommit(ctx context.Context, req backendtype.CommitRequest) (backendtype.CommitResult, error) {
	var res commitAnswer
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
		Method: http.MethodPost, Path: sessionPath(req.SessionID) + "/commit", Body: map[string]any{},
	}, &res)
	if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		// No turn of this session ever reached OpenViking.
		return backendtype.CommitResult{Status: backendtype.ResultSkipped, Response: map[string]any{"status": "skipped", "reason": "session_not_found"}}, nil
	}
	if err != nil {
		return remote.CommitFailure(backendtype.BackendOpenViking, err), nil
	}
	switch {
	case res.Status == "skipped":
		reason := res.Reason
		if reason == "" {
			reason = "skipped"
		}
		return backendtype.CommitResult{Status: backendtype.ResultSkipped, Response: map[string]any{"status": "skipped", "reason": reason}}, nil
	case res.TaskID == nil || *res.TaskID == "":
		// Finished without a background task: the archive is all there is.
		return b.archiveOnly(req, deref(res.ArchiveURI)), nil
	}
	state := commitState{TaskID: *res.TaskID, ArchiveURI: deref(res.ArchiveURI), Since: b.cfg.Now()}
	return backendtype.CommitResult{
		Status: backendtype.ResultPending, RetryAfter: b.cfg.PollInterval, State: state.metadata(),
		Response: map[string]any{"status": "accepted", "id": state.TaskID, "uri": state.ArchiveURI},
	}, nil
}

func (b *Backend) archiveOnly(req backendtype.CommitRequest, archiveURI string) backendtype.CommitResult {
	if archiveURI == "" {
		archiveURI = sessionURI(b.user(req.WorkspaceID, req.UserID), req.SessionID)
	}
	return backendtype.CommitResult{
		Status: backendtype.ResultSuccess, State: backendtype.Metadata{},
		Refs:     []backendtype.ProducedRef{{RefType: backendtype.RefTypeSessionArchive, NativeURI: archiveURI}},
		Response: map[string]any{"status": "completed", "uri": archiveURI},
	}
}

type taskAnswer struct {
	TaskID string `json:"task_id"`
	Status string `json:"status"`
	Result *struct {
		ArchiveURI    string `json:"archive_uri"`
		MemoryDiffURI string `json:"memory_diff_uri"`
	} `json:"result"`
	Error any `json:"error"`
}

// pollCommit looks at the task (GET /api/v1/tasks/{id}, the caller's own
// tasks only, openviking/server/routers/tasks.py:28-55; statuses pending,
// running, cancelling, completed, failed, cancelled,
// openviking/service/task_tracker.py:45-57).
func (b *Backend) pollCommit(ctx context.Context, req backendtype.CommitRequest, state commitState) (backendtype.CommitResult, error) {
	var task taskAnswer
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
		Method: http.MethodGet, Path: "/api/v1/tasks/" + url.PathEscape(state.TaskID),
	}, &task)
	lost := false
	if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		lost, task.Status = true, "lost"
	} else if err != nil {
		return b.keepState(remote.CommitFailure(backendtype.BackendOpenViking, err), state), nil
	}
	switch task.Status {
	case "pending", "running", "cancelling":
		if b.cfg.Now().Sub(state.Since) <= b.cfg.TaskDeadline {
			state.Polls++
			return backendtype.CommitResult{
				Status: backendtype.ResultPending, RetryAfter: b.pollDelay(state.Polls), State: state.metadata(),
				Response: map[string]any{"status": task.Status, "id": state.TaskID},
			}, nil
		}
		return b.recover(ctx, req, state, ErrorCodeTaskDeadline, fmt.Sprintf("did not finish within %s", b.cfg.TaskDeadline), false)
	case "completed":
	case "lost":
		return b.recover(ctx, req, state, ErrorCodeTaskLost, "no longer exists", lost)
	default: // failed, cancelled, or anything unknown
		return b.recover(ctx, req, state, "task_"+task.Status, "ended "+task.Status, false)
	}
	archiveURI := state.ArchiveURI
	diffURI := ""
	if task.Result != nil {
		if task.Result.ArchiveURI != "" {
			archiveURI = task.Result.ArchiveURI
		}
		diffURI = task.Result.MemoryDiffURI
	}
	if diffURI == "" && archiveURI != "" {
		// A task recovered from an archive already done completes without
		// memory_diff_uri; the diff is still in the archive
		// (openviking/session/session.py:2210-2224).
		diffURI = archiveURI + "/" + memoryDiffFile
	}
	diff, found, err := b.readDiff(ctx, req, diffURI)
	if err != nil {
		// Keep the task: the next attempt reads the diff again.
		return b.keepState(remote.CommitFailure(backendtype.BackendOpenViking, err), state), nil
	}
	res := b.archiveOnly(req, archiveURI)
	if found {
		res.Refs, res.Retired = append(res.Refs, diff.refs()...), diff.retired()
	}
	res.Response = map[string]any{"status": "completed", "id": state.TaskID, "uri": archiveURI}
	return res, nil
}

// memoryDiffFile is the diff's name in its archive (openviking/session/session.py:2650-2656).
const memoryDiffFile = "memory_diff.json"

// recover finishes a commit whose task did not complete from the archive:
// Phase 2 writes memory_diff.json there when extraction ran
// (openviking/session/compressor_v3.py:1197-1217), so a diff found is the
// commit's outcome. Without one the commit failed; the state is kept, so a
// retry (or a re-drive) looks again and never re-commits. Only a lost task
// may still finish (the server may still be working), so only that is
// retried by itself.
func (b *Backend) recover(ctx context.Context, req backendtype.CommitRequest, state commitState, code, what string, retryable bool) (backendtype.CommitResult, error) {
	if state.ArchiveURI != "" {
		diff, found, err := b.readDiff(ctx, req, state.ArchiveURI+"/"+memoryDiffFile)
		if err != nil {
			return b.keepState(remote.CommitFailure(backendtype.BackendOpenViking, err), state), nil
		}
		if found {
			res := b.archiveOnly(req, state.ArchiveURI)
			res.Refs, res.Retired = append(res.Refs, diff.refs()...), diff.retired()
			res.Response = map[string]any{"status": "completed", "id": state.TaskID, "uri": state.ArchiveURI, "reason": "recovered_from_archive"}
			return res, nil
		}
	}
	message := fmt.Sprintf("commit task %s %s and archive %s holds no memory diff", state.TaskID, what, state.ArchiveURI)
	return backendtype.CommitResult{
		Status: backendtype.ResultFailed, Retryable: retryable, ErrorCode: code, ErrorMessage: message, State: state.metadata(),
		Response: map[string]any{"status": "error", "error_code": code, "id": state.TaskID, "uri": state.ArchiveURI},
	}, nil
}

// keepState keeps the task on a failed attempt: the next one polls again.
func (b *Backend) keepState(res backendtype.CommitResult, state commitState) backendtype.CommitResult {
	res.State = state.metadata()
	return res
}

func (b *Backend) pollDelay(polls int) time.Duration {
	d := time.Duration(float64(b.cfg.PollInterval) * math.Pow(2, float64(min(polls, 10))))
	return min(d, PollIntervalMax)
}

// memoryDiff is memory_diff.json (openviking/session/compressor_v3.py:250-349,
// :2072-2123).
type memoryDiff struct {
	Operations struct {
		Adds    []diffOp `json:"adds"`
		Updates []diffOp `json:"updates"`
		Deletes []diffOp `json:"deletes"`
	} `json:"operations"`
}

type diffOp struct {
	URI        string `json:"uri"`
	MemoryType string `json:"memory_type"`
}

// refs are the memories the diff added or updated.
func (d memoryDiff) refs() []backendtype.ProducedRef {
	var out []backendtype.ProducedRef
	for _, op := range append(d.Operations.Adds, d.Operations.Updates...) {
		if op.URI == "" {
			continue
		}
		out = append(out, backendtype.ProducedRef{
			RefType: refTypeOf(op.MemoryType, op.URI), NativeURI: vikingURI(op.URI),
			Metadata: backendtype.Metadata{"category": op.MemoryType},
		})
	}
	return out
}

// retired are the memories extraction deleted.
func (d memoryDiff) retired() []backendtype.ProducedRef {
	var out []backendtype.ProducedRef
	for _, op := range d.Operations.Deletes {
		if op.URI != "" {
			out = append(out, backendtype.ProducedRef{NativeURI: vikingURI(op.URI)})
		}
	}
	return out
}

// readDiff reads memory_diff.json (GET /api/v1/content/read?uri=…): the
// result is the file's text as a JSON string
// (openviking/server/routers/content.py:122-146); found is false when the
// file does not exist.
func (b *Backend) readDiff(ctx context.Context, req backendtype.CommitRequest, uri string) (memoryDiff, bool, error) {
	var raw json.RawMessage
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
		Method: http.MethodGet, Path: "/api/v1/content/read", Query: url.Values{"uri": {uri}},
	}, &raw)
	if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		return memoryDiff{}, false, nil
	}
	if err != nil {
		return memoryDiff{}, false, err
	}
	var diff memoryDiff
	var text string
	if json.Unmarshal(raw, &text) == nil {
		raw = json.RawMessage(text)
	}
	if err := json.Unmarshal(raw, &diff); err != nil {
		return memoryDiff{}, false, b.client.BadResponse("memory diff is not valid JSON")
	}
	return diff, true, nil
}

// vikingURI makes a relative memory path absolute.
func vikingURI(uri string) string {
	if strings.Contains(uri, "://") {
		return uri
	}
	return "viking://" + strings.TrimPrefix(uri, "/")
}

// refTypeOf maps an OpenViking memory category onto a ref type: the
// category the diff names, else the uri's: …/memories/<category>/… or a
// top-level …/memories/profile.md (identity.md, soul.md)
// (openviking/prompts/templates/memory/profile.yaml:17-18).
func refTypeOf(category, uri string) backendtype.RefType {
	if category == "" {
		if _, rest, ok := strings.Cut(uri, "/memories/"); ok {
			category, _, _ = strings.Cut(rest, "/")
			category = strings.TrimSuffix(category, ".md")
		}
	}
	switch strings.ToLower(category) {
	case "profile", "identity", "soul":
		return backendtype.RefTypeProfile
	case "preferences", "preference":
		return backendtype.RefTypePreference
	case "entities", "entity":
		return backendtype.RefTypeEntity
	case "events", "event":
		return backendtype.RefTypeEvent
	case "cases", "case":
		return backendtype.RefTypeCase
	case "skills", "skill", "tools", "tool":
		return backendtype.RefTypeSkill
	case "trajectories", "trajectory":
		return backendtype.RefTypeEpisodicMemory
	default:
		return backendtype.RefTypeLongTermMemory
	}
}
