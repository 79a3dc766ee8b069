package backendtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

// written stores a fact in a session (and commits it when the backend
// commits) and returns what the gateway's refs would name of it.
func written(t *testing.T, f Fixture, s scope, turnID, fact string) []backendtype.MemoryLocator {
	t.Helper()
	refTypes := backendtype.DefaultRefTypes
	if d, ok := f.Adapter.(backendtype.RefTypeDeclarer); ok {
		refTypes = d.RefTypes()
	}
	w := ingest(t, f, s.turn(turnID, fact))
	out := []backendtype.MemoryLocator{{RefType: refTypes.Ingest, SessionID: s.session, NativeID: w.NativeID, NativeURI: w.NativeURI}}
	if has[backendtype.SessionCommitter](f) {
		res := commit(t, f, s.commitRequest("outbox_"+s.session+"_"+turnID))
		require.Contains(t, []backendtype.ResultStatus{backendtype.ResultSuccess, backendtype.ResultSkipped}, res.Status, "%s: %s", res.ErrorCode, res.ErrorMessage)
		for _, p := range res.Refs {
			refType := p.RefType
			if refType == "" {
				refType = refTypes.Commit
			}
			out = append(out, backendtype.MemoryLocator{RefType: refType, SessionID: s.session, NativeID: p.NativeID, NativeURI: p.NativeURI, Produced: p.Metadata})
		}
	}
	return out
}

// held counts locators by type, as the gateway counts a subject's refs.
func held(locators ...[]backendtype.MemoryLocator) map[backendtype.RefType]int {
	out := map[backendtype.RefType]int{}
	for _, list := range locators {
		for _, l := range list {
			out[l.RefType]++
		}
	}
	return out
}

func (s scope) erasure(memories []backendtype.MemoryLocator, held map[backendtype.RefType]int) backendtype.EraseRequest {
	req := backendtype.EraseRequest{EventID: "outbox_erase_" + s.session, WorkspaceID: s.workspace, UserID: s.user, Memories: memories, Attempt: 1, Held: held}
	if memories != nil {
		req.Namespace = s.namespace
	}
	return req
}

// erase runs an erasure to its end the way the worker does, and requires
// it to succeed.
func erase(t *testing.T, f Fixture, req backendtype.EraseRequest) backendtype.CommitResult {
	t.Helper()
	eraser := f.Adapter.(backendtype.SubjectEraser)
	for range maxPendingRounds {
		res, err := eraser.EraseSubject(context.Background(), req)
		require.NoError(t, err)
		if res.Status != backendtype.ResultPending {
			require.Equal(t, backendtype.ResultSuccess, res.Status, "%s: %s", res.ErrorCode, res.ErrorMessage)
			return res
		}
		req.State = res.State
		req.Attempt++
	}
	t.Fatalf("the erasure was still pending after %d rounds", maxPendingRounds)
	return backendtype.CommitResult{}
}

func residueOf(t *testing.T, f Fixture, req backendtype.EraseRequest) backendtype.Residue {
	t.Helper()
	residue, err := f.Adapter.(backendtype.SubjectEraser).SubjectResidue(context.Background(), req)
	require.NoError(t, err)
	return residue
}

// requireHonest: nothing a further attempt could delete remains, and every
// kind the backend cannot delete says why.
func requireHonest(t *testing.T, residue backendtype.Residue) {
	t.Helper()
	require.Zero(t, residue.Erasable(), "nothing erasable is left: %s", residue.Describe())
	for _, k := range residue.Unerasable() {
		require.NotEmpty(t, k.Why, "%s: a kind the backend cannot delete says why", k.Kind)
	}
}

func export(t *testing.T, f Fixture, s scope) []backendtype.ExportedMemory {
	t.Helper()
	var out []backendtype.ExportedMemory
	err := f.Adapter.(backendtype.SubjectExporter).ExportSubject(context.Background(), s.erasure(nil, nil), func(page []backendtype.ExportedMemory) error {
		out = append(out, page...)
		return nil
	})
	require.NoError(t, err)
	return out
}

func batchIngestStoresEveryTurn(t *testing.T, f Fixture, s scope) {
	batcher := capability[backendtype.BatchIngester](t, f, "batch ingest")
	if batcher == nil {
		return
	}
	second := s
	second.session += "b"
	facts := []string{"the " + s.word + " rises", "the " + s.word + " turns", "the " + s.word + " settles"}
	ws := []backendtype.TurnWrite{s.turn("t1", facts[0]), s.turn("t2", facts[1]), second.turn("t3", facts[2])}
	results, err := batcher.IngestTurns(context.Background(), ws)
	require.NoError(t, err)
	require.Len(t, results, len(ws), "one result per turn, in order")
	for i, res := range results {
		require.Equal(t, backendtype.ResultSuccess, res.Status, "turn %d: %s: %s", i, res.ErrorCode, res.ErrorMessage)
		require.True(t, res.NativeID != "" || res.NativeURI != "", "turn %d names its memory", i)
	}
	if !has[backendtype.Retriever](f) {
		return
	}
	if has[backendtype.SessionCommitter](f) {
		for _, sc := range []scope{s, second} {
			res := commit(t, f, sc.commitRequest("outbox_"+sc.session))
			require.Equal(t, backendtype.ResultSuccess, res.Status, "%s: %s", res.ErrorCode, res.ErrorMessage)
		}
	}
	found := strings.Join(texts(containing(retrieve(t, f, s.query(s.word)), s.word)), "\n")
	for _, fact := range facts {
		require.Contains(t, found, fact, "every turn of the batch is stored")
	}
}

func takenBackTurnIsGone(t *testing.T, f Fixture, s scope) {
	remover := capability[backendtype.TurnRemover](t, f, "take-back")
	if remover == nil {
		return
	}
	w := s.turn("t1", "the "+s.word+" was never recorded")
	res := ingest(t, f, w)
	require.True(t, res.Created, "a first write creates the memory")
	for range 2 { // taking back what is gone succeeds
		require.NoError(t, remover.RemoveTurn(context.Background(), w))
	}
	if has[backendtype.Retriever](f) {
		require.Empty(t, containing(retrieve(t, f, s.query(s.word)), s.word), "the turn taken back is not found")
	}
	again := ingest(t, f, w)
	require.True(t, again.Created, "written again, it is a new memory")
}

func wholeUserErasure(t *testing.T, f Fixture, s scope) {
	if capability[backendtype.SubjectEraser](t, f, "erasure") == nil {
		return
	}
	other := s
	other.user += "other"
	other.session += "other"
	mine := written(t, f, s, "t1", "my kite is called "+s.word)
	written(t, f, other, "t1", "my kite is called "+s.word)
	req := s.erasure(nil, held(mine))
	res := erase(t, f, req)
	outcome, _ := res.Response["outcome"].(string)
	require.Contains(t, []backendtype.ErasureOutcome{backendtype.ErasureOutcomeErased, backendtype.ErasureOutcomeSoftDeleted, backendtype.ErasureOutcomeUnsupported}, backendtype.ErasureOutcome(outcome))
	residue := residueOf(t, f, req)
	requireHonest(t, residue)
	if residue.Clear() {
		require.NotEqual(t, string(backendtype.ErasureOutcomeUnsupported), outcome, "a backend that deletes nothing cannot leave nothing")
		if retriever, ok := f.Adapter.(backendtype.Retriever); ok {
			// A backend that removed the user itself (OpenViking's admin
			// deletion revokes the user's key) may refuse to search for it.
			items, err := retriever.Retrieve(context.Background(), s.query(s.word))
			if err == nil {
				require.Empty(t, containing(items, s.word), "nothing of the user is found")
			}
		}
	} else {
		require.NotEmpty(t, residue.Unerasable(), "what remains is named")
	}
	if exporter, ok := f.Adapter.(backendtype.SubjectExporter); ok && residue.Clear() {
		var listed []backendtype.ExportedMemory
		err := exporter.ExportSubject(context.Background(), s.erasure(nil, nil), func(page []backendtype.ExportedMemory) error {
			listed = append(listed, page...)
			return nil
		})
		if err == nil {
			require.Empty(t, listed, "nothing of the user is listed")
		}
	}
	if has[backendtype.Retriever](f) {
		require.NotEmpty(t, containing(retrieve(t, f, other.query(s.word)), s.word), "another user's memories stay")
	}
	erase(t, f, req) // erasing again succeeds
	requireHonest(t, residueOf(t, f, req))
}

func narrowedErasure(t *testing.T, f Fixture, s scope) {
	if capability[backendtype.SubjectEraser](t, f, "erasure") == nil {
		return
	}
	kept := s
	kept.session += "kept"
	kept.namespace = "elsewhere"
	named := written(t, f, s, "t1", "the "+s.word+" sails north")
	written(t, f, kept, "t2", "the "+s.word+" sails south")
	req := s.erasure(named, held(named))
	erase(t, f, req)
	residue := residueOf(t, f, req)
	requireHonest(t, residue)
	if !has[backendtype.Retriever](f) {
		return
	}
	everywhere := s.query(s.word)
	everywhere.Namespace = ""
	found := strings.Join(texts(containing(retrieve(t, f, everywhere), s.word)), "\n")
	require.Contains(t, found, "south", "what the erasure did not name stays")
	if residue.Clear() && !f.SearchKeepsDeleted {
		require.NotContains(t, found, "north", "what it named is gone")
	}
}

func verificationCatchesLies(t *testing.T, f Fixture, s scope) {
	if capability[backendtype.SubjectEraser](t, f, "erasure") == nil {
		return
	}
	if f.IgnoreDeletes == nil {
		t.Logf("%s cannot be made to ignore deletes here: this check does not apply", f.Adapter.Name())
		return
	}
	mine := written(t, f, s, "t1", "my lantern is called "+s.word)
	f.IgnoreDeletes()
	req := s.erasure(nil, held(mine))
	erase(t, f, req)
	residue := residueOf(t, f, req)
	require.Positive(t, residue.Erasable(), "verification sees what the backend kept: %s", residue.Describe())
}

// seeded is how many memories SeedMemories stores: more than one listing
// page of the fixtures.
const seeded = 300

func exportListsEveryMemory(t *testing.T, f Fixture, s scope) {
	if capability[backendtype.SubjectExporter](t, f, "export") == nil || !has[backendtype.TurnIngester](f) {
		return
	}
	written(t, f, s, "t1", "my compass is called "+s.word)
	mems := export(t, f, s)
	found := false
	for _, m := range mems {
		require.NotEmpty(t, m.Text, "an exported memory has its text: %+v", m)
		require.True(t, m.NativeID != "" || m.NativeURI != "", "an exported memory names itself: %+v", m)
		found = found || strings.Contains(m.Text, s.word)
	}
	if !found && has[backendtype.SessionCommitter](f) {
		// A backend may export only what a commit extracted.
		for _, m := range mems {
			t.Logf("exported %s %s", m.NativeURI, m.NativeID)
		}
	}
	require.True(t, found, "the written fact is exported")
	if f.SeedMemories == nil {
		return
	}
	f.SeedMemories(s.workspace, s.user, seeded)
	require.GreaterOrEqual(t, len(export(t, f, s)), seeded+1, "every memory is exported, more than a listing page holds")
}

func conflictsAreRetryable(t *testing.T, f Fixture, s scope) {
	if f.ConflictNext == nil {
		t.Logf("%s has no retryable conflicts: this check does not apply", f.Adapter.Name())
		return
	}
	w := s.turn("t1", "the "+s.word+" waits its turn")
	// A storm: many writes in a row meet a busy lock. Each is retried, and
	// none makes the backend look down (its breaker stays closed).
	const storm = 12
	f.ConflictNext(storm)
	for i := range storm {
		res, err := f.Adapter.(backendtype.TurnIngester).IngestTurn(context.Background(), w)
		requireRetryable(t, fmt.Sprintf("ingest %d", i), res.Status, res.Retryable, res.ErrorCode, err)
		require.NotEqual(t, remote.CodeCircuitOpen, res.ErrorCode, "a busy lock is no outage: the breaker stays closed")
	}
	ingest(t, f, w)
	if committer, ok := f.Adapter.(backendtype.SessionCommitter); ok {
		f.ConflictNext(1)
		res, err := committer.CommitSession(context.Background(), s.commitRequest("outbox_"+s.session))
		requireRetryable(t, "commit", res.Status, res.Retryable, res.ErrorCode, err)
		require.Equal(t, backendtype.ResultSuccess, commit(t, f, s.commitRequest("outbox_"+s.session)).Status, "the commit goes through once the lock is free")
	}
	if eraser, ok := f.Adapter.(backendtype.SubjectEraser); ok {
		f.ConflictNext(1)
		res, err := eraser.EraseSubject(context.Background(), s.erasure(nil, nil))
		requireRetryable(t, "erasure", res.Status, res.Retryable, res.ErrorCode, err)
		erase(t, f, s.erasure(nil, nil))
	}
}

func requireRetryable(t *testing.T, what string, status backendtype.ResultStatus, retryable bool, code string, err error) {
	t.Helper()
	if err != nil {
		return // an error return is retried
	}
	require.Equal(t, backendtype.ResultFailed, status, what)
	require.True(t, retryable, fmt.Sprintf("%s: a conflict the backend marks retryable is retried (%s)", what, code))
}

func memoriesAreReadBack(t *testing.T, f Fixture, s scope) {
	reader := capability[backendtype.MemoryReader](t, f, "reading memories back")
	if reader == nil || !has[backendtype.TurnIngester](f) {
		return
	}
	named := written(t, f, s, "t1", "my kayak is called "+s.word)
	gone := backendtype.MemoryLocator{RefType: named[len(named)-1].RefType, NativeID: "missing-" + s.word, NativeURI: "viking://user/" + s.user + "/memories/preferences/missing.md"}
	read, err := reader.ReadMemories(context.Background(), s.workspace, s.user, append(named, gone))
	require.NoError(t, err)
	require.Len(t, read, len(named)+1, "one answer per memory, in order")
	found := false
	for i, r := range read[:len(named)] {
		if r.Found {
			require.NotEmpty(t, r.Text, "memory %d: found means a text", i)
			found = found || strings.Contains(r.Text, s.word)
		}
	}
	require.True(t, found, "the written fact is read back")
	require.False(t, read[len(named)].Found, "a memory the backend does not hold is not found")
	other, err := reader.ReadMemories(context.Background(), s.workspace, s.user+"other", named)
	require.NoError(t, err)
	for _, r := range other {
		require.False(t, r.Found, "another user reads nothing of it")
	}
}
