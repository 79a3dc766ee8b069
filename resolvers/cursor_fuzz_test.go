package resolvers

import (
	"testing"
	"time"
)

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), "ref_abc"))
	f.Add("")
	f.Add("not a cursor")
	f.Add("YzF8MjAyNnwK")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			return
		}
		// Whatever decodes must encode back to a cursor that decodes the same.
		again, err := decodeCursor(encodeCursor(c.CreatedAt, c.ID))
		if err != nil || !again.CreatedAt.Equal(c.CreatedAt) || again.ID != c.ID {
			t.Fatalf("round trip of %q: %+v vs %+v (%v)", s, c, again, err)
		}
	})
}
