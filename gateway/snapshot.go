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
// created time then id), in either direction, as the store pages them.
func (s JobSnapshot) EventsPage(p PageRequest) Page[OutboxEvent] {
	events := slices.Clone(s.Events)
	slices.SortFunc(events, func(a, b OutboxEvent) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	// beyond reports whether e comes after c in list order (is older).
	beyond := func(e OutboxEvent, c Cursor) bool {
		return e.CreatedAt.Before(c.CreatedAt) || (e.CreatedAt.Equal(c.CreatedAt) && e.ID < c.ID)
	}
	page := EmptyPage[OutboxEvent](p)
	if p.Backward {
		if p.Before != nil {
			i := 0
			for i < len(events) && !beyond(events[i], *p.Before) && !(events[i].CreatedAt.Equal(p.Before.CreatedAt) && events[i].ID == p.Before.ID) {
				i++
			}
			events = events[:i]
		}
		if len(events) > p.Last {
			events, page.HasPreviousPage = events[len(events)-p.Last:], true
		}
		page.Items = append(page.Items, events...)
		return page
	}
	if p.After != nil {
		i := 0
		for i < len(events) && !beyond(events[i], *p.After) {
			i++
		}
		events = events[i:]
	}
	if p.First > 0 && len(events) > p.First {
		events, page.HasNextPage = events[:p.First], true
	}
	page.Items = append(page.Items, events...)
	return page
}
