// Package localtest fills the local backend with long, realistic histories
// quickly (straight through the backend, many turns per statement), for
// benchmarks of recall as a user's memory grows.
package localtest

import (
	"context"
	"fmt"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// History settings.
const (
	// Workspace, Agent and Namespace are where every history lies.
	Workspace = "recall"
	Agent     = "a1"
	Namespace = "bench/recall"
	// Query is what recall asks: its words are in the user's stated
	// favourites alone, so as many turns match it at every history size.
	Query = "what is my favourite colour and my favourite drink"
	// Favourites is how many turns state a favourite: every fifth of the
	// first 5*Favourites.
	Favourites = 20
	// CommonQuery's word is in about one turn in 18 of every history
	// (the turns that match it grow with the history).
	CommonQuery = "what did I do in the garden"
	// turnsPerSession is how many turns one session holds.
	turnsPerSession = 20
	// batchSize is how many turns one statement writes.
	batchSize = 500
)

// Ingester is the part of the local backend a history is written through.
type Ingester interface {
	IngestTurns(ctx context.Context, ws []backendtype.TurnWrite) ([]backendtype.WriteResult, error)
}

// Fill writes user's turns from..to-1 (turn n is always the same text, so a
// history grows by filling the next range).
func Fill(ctx context.Context, b Ingester, user string, from, to int) error {
	batch := make([]backendtype.TurnWrite, 0, batchSize)
	for n := from; n < to; n++ {
		batch = append(batch, TurnWrite(user, n))
		if len(batch) == batchSize || n == to-1 {
			if _, err := b.IngestTurns(ctx, batch); err != nil {
				return fmt.Errorf("error filling %s's history at turn %d: %w", user, n, err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

// TurnWrite is user's turn n.
func TurnWrite(user string, n int) backendtype.TurnWrite {
	session := fmt.Sprintf("%s-s%d", user, n/turnsPerSession)
	turn := fmt.Sprintf("t%d", n%turnsPerSession)
	content := Text(user, n)
	return backendtype.TurnWrite{
		GatewayID: fmt.Sprintf("gw_%s_%s_%s", Workspace, session, turn), WorkspaceID: Workspace, UserID: user,
		AgentID: Agent, SessionID: session, TurnID: turn, Namespace: Namespace, Role: backendtype.RoleUser,
		Content: content, ContentHash: backendtype.ContentHash(content),
	}
}

var (
	days    = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "yesterday", "tonight", "last week"}
	verbs   = []string{"fixed", "painted", "carried", "ordered", "measured", "cleaned", "borrowed", "sold", "planted", "tested", "booked", "packed", "wrote", "read", "cooked"}
	nouns   = []string{"bicycle", "kettle", "ladder", "garden", "report", "invoice", "guitar", "tent", "lamp", "window", "fence", "budget", "recipe", "printer", "suitcase", "boat", "piano", "roof"}
	places  = []string{"station", "market", "harbour", "library", "office", "bakery", "clinic", "stadium", "museum", "airport", "farm", "school", "hotel", "bridge"}
	people  = []string{"Anna", "Tomas", "my brother", "the neighbours", "Priya", "Kenji", "my manager", "Lucia", "the plumber", "Omar", "grandma", "Sven"}
	things  = []string{"colour", "drink", "book", "city", "song", "film", "season", "sport"}
	values  = []string{"blue", "lemonade", "Dune", "Porto", "Hallelujah", "Alien", "autumn", "tennis", "green", "espresso", "Emma", "Kyoto"}
	details = []string{"it took hours", "it rained all day", "the price went up", "nobody was there", "it went better than planned", "we ran out of time", "the queue was long", "I forgot the keys"}
)

// Text is user's turn n: everyday chores, and among the first turns
// Favourites stated favourites. Words vary with n and the user, and every
// chore has a number of its own, so histories share a vocabulary without
// being copies.
func Text(user string, n int) string {
	h := mix(user, n)
	pick := func(words []string, shift uint) string { return words[(h>>shift)%uint64(len(words))] }
	if n < 5*Favourites && n%5 == 4 {
		return fmt.Sprintf("My favourite %s is %s, since %s.", pick(things, 3), pick(values, 11), pick(days, 19))
	}
	return fmt.Sprintf("On %s I %s the %s near the %s with %s; %s (note %d).",
		pick(days, 3), pick(verbs, 11), pick(nouns, 19), pick(places, 27), pick(people, 35), pick(details, 43), n)
}

// mix is a small deterministic hash of (user, n).
func mix(user string, n int) uint64 {
	h := uint64(1469598103934665603)
	for i := 0; i < len(user); i++ {
		h = (h ^ uint64(user[i])) * 1099511628211
	}
	h ^= uint64(n) * 0x9e3779b97f4a7c15
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 29
	return h
}
