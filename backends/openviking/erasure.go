package openviking

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

var _ backendtype.SubjectEraser = (*Backend)(nil)

// userRootChildren are the directories below a user's root
// (openviking/core/directories.py:109-135). The root itself cannot be
// deleted by any caller but ROOT ("Deleting a namespace root requires root
// access", openviking/storage/viking_fs/_access.py:173-182), and trusted
// mode is never ROOT on data routes (openviking/server/auth/plugins/trusted.py:165-178);
// its children can.
var userRootChildren = []string{"memories", "peers", "sessions", "resources", "skills", "privacy"}

// Keys of the state a whole-user erasure keeps between attempts.
const stateAdminTask = "admin_task"

// Residue kinds (SubjectResidue).
const (
	ResidueMemoryFile = "memory_file"
	ResidueSession    = "session"
	ResidueFile       = "file"
)

// EraseSubject implements backendtype.SubjectEraser.
//
// A whole user: a user registered with a key of its own (api_key mode) is
// deleted by the server's own durable user deletion (DELETE
// /api/v1/admin/accounts/{a}/users/{u} with the root key: it cancels the
// user's tasks and clears vectors, files, uploads and the user itself,
// openviking/service/user_deletion.py:128-380), followed as a task. Any
// other user (trusted mode) is erased by cancelling its commit tasks still
// running (whose extraction would write memories again) and deleting each
// child of its root recursively: memories, peers, sessions, resources,
// skills, privacy.
//
// A narrower scope (an agent, a namespace), which OpenViking's tree does not
// express: only what the gateway's refs name — the memory files and the
// sessions. A file or session already gone counts as erased (a missing path
// deletes with 200, openviking/storage/viking_fs/_ops.py:156-173).
func (b *Backend) EraseSubject(ctx context.Context, req backendtype.EraseRequest) (backendtype.CommitResult, error) {
	if req.Memories != nil {
		return b.eraseNamed(ctx, req)
	}
	who := b.user(req.WorkspaceID, req.UserID)
	if who.key != "" && b.cfg.APIKey != "" {
		res, registered, err := b.adminErase(ctx, req, who)
		if err != nil {
			return remote.CommitFailure(backendtype.BackendOpenViking, err), nil
		}
		if registered {
			return res, nil
		}
	}
	entries, err := b.listTree(ctx, who, home(who))
	if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && who.key != "" && b.cfg.APIKey != "" && re.Status == http.StatusUnauthorized {
		// The server refuses the user's own key, and its admin API (as
		// root, just above) does not know the user: nothing is left of it.
		return erasedResult(0), nil
	}
	if err != nil {
		return remote.CommitFailure(backendtype.BackendOpenViking, err), nil
	}
	active, err := b.cancelCommits(ctx, who)
	if err != nil {
		return remote.CommitFailure(backendtype.BackendOpenViking, err), nil
	}
	if active > 0 {
		// Cancelling is cooperative: an extraction still stopping may write
		// memories, so the delete waits until none is active.
		return backendtype.CommitResult{Status: backendtype.ResultPending, RetryAfter: b.cfg.PollInterval, State: backendtype.Metadata{},
			Response: map[string]any{"status": "cancelling_commits", "id": fmt.Sprint(active)}}, nil
	}
	for _, child := range topLevel(entries) {
		err := b.callAs(ctx, who, remote.Request{
			Method: http.MethodDelete, Path: "/api/v1/fs",
			Query: url.Values{"uri": {home(who) + "/" + child}, "recursive": {"true"}, "wait": {"true"}},
		}, nil)
		if err != nil {
			return remote.CommitFailure(backendtype.BackendOpenViking, err), nil
		}
	}
	erased := 0
	for _, e := range entries {
		if !e.IsDir {
			erased++
		}
	}
	return erasedResult(erased), nil
}

// topLevel are the names to delete below a user's root: its preset
// directories, and whatever else the listing found there (a settings
// directory, files written at the root, openviking/server/user_config.py:32-33,
// openviking/storage/content_write.py:1490-1499).
func topLevel(entries []treeEntry) []string {
	names := slices.Clone(userRootChildren)
	for _, e := range entries {
		if rel := relToUserRoot(e.URI); rel != "" && !strings.Contains(rel, "/") && !slices.Contains(names, rel) {
			names = append(names, rel)
		}
	}
	return names
}

// relToUserRoot is a uri's path below its user's root: "memories/x.md" for
// viking://user/{u}/memories/x.md.
func relToUserRoot(uri string) string {
	rest, ok := strings.CutPrefix(uri, "viking://user/")
	if !ok {
		return ""
	}
	_, rel, _ := strings.Cut(rest, "/")
	return rel
}

// home is the root of the user's tree as requests name it: a user with a
// key of its own is whoever its key says, which the server resolves
// viking://~ to (openviking/core/namespace.py:257-285); the gateway's
// mapping of its id need not be the id it was registered under.
func home(who identity) string {
	if who.key != "" {
		return "viking://~"
	}
	return userRoot(who)
}

func erasedResult(erased int) backendtype.CommitResult {
	outcome := backendtype.ErasureOutcomeErased
	if erased == 0 {
		outcome = backendtype.ErasureOutcomeNothingToErase
	}
	return backendtype.CommitResult{Status: backendtype.ResultSuccess, Response: map[string]any{"outcome": string(outcome), "erased": erased}}
}

// adminErase deletes a registered user through the admin API and follows
// the user_delete task: 202 with a task id (openviking/server/routers/admin.py:572-586,
// user_deletion.py:193-198), polled as root (a root caller's deletion is a
// system task, :136-143). registered is false when the server does not know
// the user (404 "User not found", openviking/server/api_keys/legacy.py:436-442):
// the caller then erases it child by child.
func (b *Backend) adminErase(ctx context.Context, req backendtype.EraseRequest, who identity) (res backendtype.CommitResult, registered bool, err error) {
	admin := identity{admin: true}
	taskID, _ := req.State[stateAdminTask].(string)
	if taskID != "" {
		var task taskAnswer
		err := b.callAs(ctx, admin, remote.Request{Method: http.MethodGet, Path: "/api/v1/tasks/" + url.PathEscape(taskID)}, &task)
		switch re := remote.AsError(backendtype.BackendOpenViking, err); {
		case err != nil && re.Retryable:
			return backendtype.CommitResult{}, true, err
		case err != nil:
			// The task cannot be read (expired, or a trusted-mode server
			// shows root's tasks to nobody on data routes): ask the
			// deletion again, which is idempotent; a user already deleted
			// answers 404 below.
		case task.Status == "completed":
			return erasedResult(1), true, nil
		case task.Status == "pending" || task.Status == "running" || task.Status == "cancelling":
			return backendtype.CommitResult{
				Status: backendtype.ResultPending, RetryAfter: b.cfg.PollInterval, State: backendtype.Metadata{stateAdminTask: taskID},
				Response: map[string]any{"status": task.Status, "id": taskID},
			}, true, nil
		}
		// A failed task: a new deletion starts (the call is idempotent,
		// user_deletion.py:145-184).
	}
	var started struct {
		TaskID string `json:"task_id"`
	}
	err = b.callAs(ctx, admin, remote.Request{
		Method: http.MethodDelete, Path: "/api/v1/admin/accounts/" + url.PathEscape(who.account) + "/users/" + url.PathEscape(who.user),
	}, &started)
	if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		if taskID != "" {
			// Deleted by the task this erasure started.
			return erasedResult(1), true, nil
		}
		return backendtype.CommitResult{}, false, nil
	}
	if err != nil {
		return backendtype.CommitResult{}, true, err
	}
	return backendtype.CommitResult{
		Status: backendtype.ResultPending, RetryAfter: b.cfg.PollInterval, State: backendtype.Metadata{stateAdminTask: started.TaskID},
		Response: map[string]any{"status": "deleting", "id": started.TaskID},
	}, true, nil
}

// cancelCommits cancels the user's commit tasks still pending or running
// (GET /api/v1/tasks?task_type=session_commit&status=…, at most 200 a page,
// with no cursor: a page is read again until it comes back short; POST
// /api/v1/tasks/{id}/cancel; openviking/server/routers/tasks.py:58-124). A
// task that finished meanwhile answers 412, one that expired 404: both are
// done with. It returns how many are still active: cancelling is
// cooperative (a task passes through "cancelling",
// openviking/service/task_tracker.py:618-680).
func (b *Backend) cancelCommits(ctx context.Context, who identity) (int, error) {
	const page = 200
	active := 0
	for _, status := range []string{"pending", "running", "cancelling"} {
		for round := 0; ; round++ {
			var tasks []struct {
				TaskID string `json:"task_id"`
			}
			err := b.callAs(ctx, who, remote.Request{Method: http.MethodGet, Path: "/api/v1/tasks",
				Query: url.Values{"task_type": {"session_commit"}, "status": {status}, "limit": {strconv.Itoa(page)}}}, &tasks)
			if err != nil {
				return 0, err
			}
			if status == "cancelling" {
				active += len(tasks)
				break
			}
			for _, t := range tasks {
				var snapshot struct {
					Status string `json:"status"`
				}
				err := b.callAs(ctx, who, remote.Request{Method: http.MethodPost, Path: "/api/v1/tasks/" + url.PathEscape(t.TaskID) + "/cancel"}, &snapshot)
				re := remote.AsError(backendtype.BackendOpenViking, err)
				switch {
				case err != nil && re.Code != codeNotFound && re.Status != http.StatusPreconditionFailed:
					return 0, err
				case err == nil && snapshot.Status == "cancelling":
					active++
				}
			}
			if len(tasks) < page || round > 50 {
				break
			}
		}
	}
	return active, nil
}

// registered reports whether OpenViking's admin API knows the user (GET
// /api/v1/admin/accounts/{a}/users/{u}/settings as root: 404 when it does
// not, openviking/server/routers/admin.py:508-520).
func (b *Backend) registered(ctx context.Context, who identity) (bool, error) {
	err := b.callAs(ctx, identity{admin: true}, remote.Request{Method: http.MethodGet,
		Path: "/api/v1/admin/accounts/" + url.PathEscape(who.account) + "/users/" + url.PathEscape(who.user) + "/settings"}, nil)
	if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		return false, nil
	}
	return err == nil, err
}

// eraseNamed deletes the memory files and sessions the gateway's refs name.
func (b *Backend) eraseNamed(ctx context.Context, req backendtype.EraseRequest) (backendtype.CommitResult, error) {
	who := b.user(req.WorkspaceID, req.UserID)
	erased := 0
	var sessions []string
	for _, m := range req.Memories {
		var err error
		switch {
		case isMemoryURI(m.NativeURI):
			err = b.callAs(ctx, who, remote.Request{
				Method: http.MethodDelete, Path: "/api/v1/fs",
				Query: url.Values{"uri": {m.NativeURI}, "recursive": {"false"}, "wait": {"true"}},
			}, nil)
		case m.SessionID != "" && !slices.Contains(sessions, m.SessionID):
			err = b.deleteSession(ctx, who, sessionID(m.SessionID))
			sessions = append(sessions, m.SessionID)
		default:
			continue
		}
		if err != nil {
			return remote.CommitFailure(backendtype.BackendOpenViking, err), nil
		}
		erased++
	}
	res := erasedResult(erased)
	res.DeletedSessions = sessions
	return res, nil
}

var _ backendtype.SessionWideEraser = (*Backend)(nil)

// ErasesWholeSessions implements backendtype.SessionWideEraser: a session's
// messages cannot be deleted one by one (the session routes offer no
// message delete, only DELETE /api/v1/sessions/{id},
// openviking/server/routers/sessions.py:299-835, :551), so a narrowed
// erasure deletes the subject's sessions whole.
func (*Backend) ErasesWholeSessions() bool { return true }

// deleteSession deletes a session by the id OpenViking knows it by; a
// session that is gone (404 "Session not found") counts as deleted.
func (b *Backend) deleteSession(ctx context.Context, who identity, id string) error {
	err := b.callAs(ctx, who, remote.Request{Method: http.MethodDelete, Path: "/api/v1/sessions/" + url.PathEscape(id)}, nil)
	if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		return nil
	}
	return err
}

// SubjectResidue implements backendtype.SubjectEraser: for a whole user, what
// the user's tree still lists — memory files (the user's and its peers'),
// sessions, and any other file — by kind; a user the server no longer
// knows (its key refused after an admin deletion) holds nothing. For a
// narrower scope: the named memory files that can still be read and the
// named sessions still listed.
func (b *Backend) SubjectResidue(ctx context.Context, req backendtype.EraseRequest) (backendtype.Residue, error) {
	who := b.user(req.WorkspaceID, req.UserID)
	if req.Memories != nil {
		return b.namedResidue(ctx, req, who)
	}
	entries, err := b.listTree(ctx, who, home(who))
	if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && who.key != "" && re.Status == http.StatusUnauthorized && b.cfg.APIKey != "" {
		// The user's key is refused: after an admin deletion the user is
		// gone, which root confirms; anything else is no verification.
		known, rerr := b.registered(ctx, who)
		switch {
		case rerr != nil:
			return nil, rerr
		case !known:
			return backendtype.Residue{}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	kinds := map[string]int{}
	for _, e := range entries {
		rel := relToUserRoot(e.URI)
		switch {
		case e.IsDir && strings.HasPrefix(rel, "sessions/") && strings.Count(rel, "/") == 1:
			kinds[ResidueSession]++
		case e.IsDir:
		case isMemoryURI(e.URI):
			kinds[ResidueMemoryFile]++
		default:
			kinds[ResidueFile]++
		}
	}
	return backendtype.Residue{
		{Kind: ResidueMemoryFile, Count: kinds[ResidueMemoryFile]},
		{Kind: ResidueSession, Count: kinds[ResidueSession]},
		{Kind: ResidueFile, Count: kinds[ResidueFile]},
	}, nil
}

func (b *Backend) namedResidue(ctx context.Context, req backendtype.EraseRequest, who identity) (backendtype.Residue, error) {
	files, sessions := 0, 0
	checked := map[string]bool{}
	for _, m := range req.Memories {
		var err error
		switch {
		case isMemoryURI(m.NativeURI):
			err = b.callAs(ctx, who, remote.Request{
				Method: http.MethodGet, Path: "/api/v1/content/read", Query: url.Values{"uri": {m.NativeURI}}, OmitErrorText: true,
			}, nil)
			if err == nil {
				files++
			}
		case m.SessionID != "" && !checked[m.SessionID]:
			// Each session is asked for by id: the session list answers []
			// on any storage error and stops at 1,000
			// (openviking/service/session_service.py:311-341).
			checked[m.SessionID] = true
			err = b.callAs(ctx, who, remote.Request{Method: http.MethodGet, Path: sessionPath(m.SessionID)}, nil)
			if err == nil {
				sessions++
			}
		}
		if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && re.Code != codeNotFound {
			return nil, err
		}
	}
	return backendtype.Residue{{Kind: ResidueMemoryFile, Count: files}, {Kind: ResidueSession, Count: sessions}}, nil
}

// exportBatch is how many memory files one page of an export reads.
const exportBatch = 50

var _ backendtype.SubjectExporter = (*Backend)(nil)

// ExportSubject implements backendtype.SubjectExporter: every memory file of
// the user's tree — its own memories and its peers' — listed in full
// (listTree) and read with GET /api/v1/content/read, a page at a time.
// Directories are listed too and are skipped: reading one is 400
// (openviking/storage/viking_fs/_ops.py:964-969).
func (b *Backend) ExportSubject(ctx context.Context, req backendtype.EraseRequest, emit func([]backendtype.ExportedMemory) error) error {
	who := b.user(req.WorkspaceID, req.UserID)
	entries, err := b.listTree(ctx, who, home(who))
	if err != nil {
		return err
	}
	page := make([]backendtype.ExportedMemory, 0, exportBatch)
	for _, e := range entries {
		if e.IsDir || !isMemoryURI(e.URI) {
			continue
		}
		var text string
		err := b.callAs(ctx, who, remote.Request{
			Method: http.MethodGet, Path: "/api/v1/content/read", Query: url.Values{"uri": {e.URI}}, OmitErrorText: true,
		}, &text)
		if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		page = append(page, backendtype.ExportedMemory{NativeURI: e.URI, MemoryType: refTypeOf("", e.URI), Text: text})
		if len(page) == exportBatch {
			if err := emit(page); err != nil {
				return err
			}
			page = page[:0]
		}
	}
	if len(page) > 0 {
		return emit(page)
	}
	return nil
}

var _ backendtype.MemoryReader = (*Backend)(nil)

// ReadMemories implements backendtype.MemoryReader: each memory file with GET
// /api/v1/content/read (a file that is gone is not found); a session or an
// archive is no memory file and is not read back.
func (b *Backend) ReadMemories(ctx context.Context, workspaceID, userID string, ms []backendtype.MemoryLocator) ([]backendtype.ReadMemory, error) {
	who := b.user(workspaceID, userID)
	out := make([]backendtype.ReadMemory, len(ms))
	for i, m := range ms {
		if !isMemoryURI(m.NativeURI) {
			continue
		}
		var text string
		err := b.callAs(ctx, who, remote.Request{
			Method: http.MethodGet, Path: "/api/v1/content/read", Query: url.Values{"uri": {m.NativeURI}}, OmitErrorText: true,
		}, &text)
		// Another user's file is 403 (openviking/storage/viking_fs/_access.py:148-151):
		// not this user's memory.
		if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && (re.Code == codeNotFound || re.Status == http.StatusForbidden) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = backendtype.ReadMemory{Text: text, Found: true}
	}
	return out, nil
}
