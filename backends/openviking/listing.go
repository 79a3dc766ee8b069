package openviking

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Listing defaults. A memory file lies at most 8 levels below the user's
// root (peers/{p}/memories/events/YYYY/MM/DD/{name}.md,
// openviking/prompts/templates/memory/events.yaml:89-90 under
// openviking/session/memory/memory_isolation_handler.py:29-33), so a tree of
// treeDepth levels reaches every one.
const (
	ListPageDefault = 1000
	treeDepth       = 10
)

// ErrorCodeListingIncomplete is a directory with more entries than one
// listing page holds: OpenViking's listings have no cursor, so the rest
// cannot be reached.
const ErrorCodeListingIncomplete = "listing_incomplete"

// treeEntry is an agent-format listing entry: isDir in camelCase, no
// trailing slash on directories, rel_path below the listed uri (tree only)
// (openviking/storage/viking_fs/_ops.py:785-816).
type treeEntry struct {
	URI     string `json:"uri"`
	IsDir   bool   `json:"isDir"`
	RelPath string `json:"rel_path"`
}

// listTree lists everything below uri, however deep and however many: GET
// /api/v1/fs/tree with a level limit deep enough for every memory and a
// node limit of one page. The server cuts a full page silently (no flag, no
// cursor; openviking/storage/viking_fs/_access.py:330-413), so a full page
// is never taken as the whole: the directory's children are listed on
// their own (GET /api/v1/fs/ls) and each child directory's tree is listed
// the same way. A uri that does not exist lists nothing (404 "Directory not
// found", _access.py:364-367).
func (b *Backend) listTree(ctx context.Context, who identity, uri string) ([]treeEntry, error) {
	var entries []treeEntry
	found, err := b.list(ctx, who, "/api/v1/fs/tree", url.Values{"uri": {uri}, "level_limit": {strconv.Itoa(treeDepth)}}, &entries)
	if err != nil || !found || len(entries) < b.cfg.ListPage {
		return entries, err
	}
	var children []treeEntry
	if _, err := b.list(ctx, who, "/api/v1/fs/ls", url.Values{"uri": {uri}}, &children); err != nil {
		return nil, err
	}
	if len(children) >= b.cfg.ListPage {
		return nil, &remote.Error{Backend: backendtype.BackendOpenViking, Code: ErrorCodeListingIncomplete, Retryable: true,
			Message: "a directory holds more entries than one listing page (" + strconv.Itoa(b.cfg.ListPage) + ")"}
	}
	all := children
	for _, child := range children {
		if !child.IsDir {
			continue
		}
		below, err := b.listTree(ctx, who, child.URI)
		if err != nil {
			return nil, err
		}
		all = append(all, below...)
	}
	return all, nil
}

// list reads one listing page; found is false on 404.
func (b *Backend) list(ctx context.Context, who identity, path string, q url.Values, into *[]treeEntry) (bool, error) {
	q.Set("node_limit", strconv.Itoa(b.cfg.ListPage))
	err := b.callAs(ctx, who, remote.Request{Method: http.MethodGet, Path: path, Query: q}, into)
	if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		return false, nil
	}
	return err == nil, err
}
