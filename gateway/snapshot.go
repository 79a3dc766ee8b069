package gateway

import (
	"cmp"
	"slices"
)

// JobSnapshot is a commit job with its outbox events as they were at one
// moment: what commitSession answers with, so that the job's status, its
// outbox summary and its events always agree (the worker may move on the
// moment the answer is read, but never halfway through it).
type JobSnapshot struct {
	Job    CommitJob
	Events []OutboxEvent
}

// Summary counts the snapshot's events by status.
func (s JobSnapshot) Summary() OutboxSummary {
	var sum OutboxSummary
	for _, e := range s.Events {
		sum.Add(e.Status, 1)
	}
	return sum
}

// EventsPage pages the snapshot's events in list order (newest first, by
// created time then id), as the store pages them.
func (s JobSnapshot) EventsPage(p PageRequest) Page[OutboxEvent] {
	events := slices.Clone(s.Events)
	slices.SortFunc(events, func(a, b OutboxEvent) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if p.After != nil {
		after := *p.After
		i := 0
		for i < len(events) && !(events[i].CreatedAt.Before(after.CreatedAt) || (events[i].CreatedAt.Equal(after.CreatedAt) && events[i].ID < after.ID)) {
			i++
		}
		events = events[i:]
	}
	page := Page[OutboxEvent]{Items: events, HasPreviousPage: p.After != nil}
	if p.First > 0 && len(events) > p.First {
		page.Items, page.HasNextPage = events[:p.First], true
	}
	if page.Items == nil {
		page.Items = []OutboxEvent{}
	}
	return page
}
