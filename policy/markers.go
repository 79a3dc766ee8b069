package policy

import (
	"sort"
	"strings"
)

// Redaction markers are what the actions leave in a text: "[REDACTED:kind]"
// (mask, reject) and "[kind:0123456789ab]" (hash). A text that went through
// redaction is redacted again — by the passes of one Redact, and whenever
// stored text comes back through the gateway — so markers must be inert:
// no detector reads one as a key and its value ("[password:…]" looks like
// "password: …"), as a context word ("[REDACTED:phone]" names a phone), or
// as part of a finding. The engine finds them first, skips keyword hits
// inside them, and cuts them out of every finding.

// span is a byte range of a text.
type span struct{ start, end int }

const (
	markerOpen    = "[REDACTED:"
	markerHashLen = 12 // hex digits of a hash marker
	maxMarkerName = 64
)

// findMarkers returns the markers of text in order.
func findMarkers(text string) []span {
	var out []span
	for i := 0; i < len(text); {
		j := indexByteFrom(text, '[', i)
		if j < 0 {
			break
		}
		if end := markerEnd(text, j); end > 0 {
			out = append(out, span{j, end})
			i = end
			continue
		}
		i = j + 1
	}
	return out
}

func indexByteFrom(s string, c byte, from int) int {
	if j := strings.IndexByte(s[from:], c); j >= 0 {
		return from + j
	}
	return -1
}

// markerEnd returns where the marker that starts at i ends, or 0 when
// none starts there.
func markerEnd(t string, i int) int {
	if len(t)-i >= len(markerOpen) && t[i:i+len(markerOpen)] == markerOpen {
		if end := markerNameEnd(t, i+len(markerOpen)); end > 0 && t[end] == ']' {
			return end + 1
		}
		return 0
	}
	colon := markerNameEnd(t, i+1)
	if colon <= 0 || t[colon] != ':' {
		return 0
	}
	end := colon + 1 + markerHashLen
	if end >= len(t) || t[end] != ']' {
		return 0
	}
	for k := colon + 1; k < end; k++ {
		if c := t[k]; !isDigit(c) && (c < 'a' || c > 'f') {
			return 0
		}
	}
	return end + 1
}

// markerNameEnd reads a kind name from i (what a custom rule may be named:
// anything but brackets, colons and line breaks) and returns where it
// ends, or 0 when there is none.
func markerNameEnd(t string, i int) int {
	j := i
	for j < len(t) && j-i <= maxMarkerName {
		switch t[j] {
		case '[', ']', ':', '\n', '\r':
			if j == i {
				return 0
			}
			return j
		}
		j++
	}
	return 0
}

// validMarkerName reports whether a custom rule's name can stand in a
// marker that is recognised again.
func validMarkerName(name string) bool {
	return name != "" && len(name) <= maxMarkerName && !strings.ContainsAny(name, "[]:\n\r")
}

// markerAt returns the marker holding position i, if any.
func markerAt(markers []span, i int) (span, bool) {
	if len(markers) == 0 {
		return span{}, false
	}
	k := sort.Search(len(markers), func(k int) bool { return markers[k].end > i })
	if k < len(markers) && markers[k].start <= i {
		return markers[k], true
	}
	return span{}, false
}

// outsideMarkers cuts the markers out of findings: what is left of a
// finding on either side of a marker stays a finding of its kind.
func outsideMarkers(all []finding, markers []span) []finding {
	if len(markers) == 0 {
		return all
	}
	var out []finding
	for _, f := range all {
		k := sort.Search(len(markers), func(k int) bool { return markers[k].end > f.start })
		for ; k < len(markers) && markers[k].start < f.end; k++ {
			m := markers[k]
			if m.start > f.start {
				out = append(out, finding{start: f.start, end: m.start, kind: f.kind, priority: f.priority})
			}
			f.start = max(f.start, m.end)
		}
		if f.end > f.start {
			out = append(out, f)
		}
	}
	return out
}
