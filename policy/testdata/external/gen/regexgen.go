package main

import (
	"hash/fnv"
	"math/rand/v2"
	"regexp/syntax"
	"strings"
)

// sampler draws strings that match a regular expression, from a seeded
// generator so that the same seed gives the same corpus. It stands in for
// the random generator gitleaks' rule tests use for their true positives.
type sampler struct{ rng *rand.Rand }

func newSampler(seed string) *sampler {
	h := fnv.New64a()
	h.Write([]byte(seed))
	return &sampler{rng: rand.New(rand.NewPCG(h.Sum64(), 0x9e3779b97f4a7c15))}
}

func (s *sampler) sample(pattern string) (string, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	s.walk(&sb, re.Simplify())
	return sb.String(), nil
}

// printable is what "any character" draws from.
const printable = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (s *sampler) walk(sb *strings.Builder, re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && s.rng.IntN(2) == 0 {
				r = []rune(strings.ToUpper(string(r)))[0]
			}
			sb.WriteRune(r)
		}
	case syntax.OpCharClass:
		sb.WriteRune(s.fromClass(re.Rune))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		sb.WriteByte(printable[s.rng.IntN(len(printable))])
	case syntax.OpCapture:
		s.walk(sb, re.Sub[0])
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			s.walk(sb, sub)
		}
	case syntax.OpAlternate:
		s.walk(sb, re.Sub[s.rng.IntN(len(re.Sub))])
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := re.Min, re.Max
		switch re.Op {
		case syntax.OpStar:
			lo, hi = 0, -1
		case syntax.OpPlus:
			lo, hi = 1, -1
		case syntax.OpQuest:
			lo, hi = 0, 1
		}
		if hi < 0 {
			hi = lo + 8
		}
		n := lo + s.rng.IntN(hi-lo+1)
		for range n {
			s.walk(sb, re.Sub[0])
		}
	}
	// Anchors, word boundaries and empty matches add nothing.
}

// fromClass draws a rune from a class given as ranges, preferring
// printable ASCII so that the samples look like what the rule is written for.
func (s *sampler) fromClass(ranges []rune) rune {
	var ascii []rune
	for i := 0; i+1 < len(ranges); i += 2 {
		for r := max(ranges[i], 0x21); r <= min(ranges[i+1], 0x7e); r++ {
			ascii = append(ascii, r)
		}
	}
	if len(ascii) > 0 {
		return ascii[s.rng.IntN(len(ascii))]
	}
	i := 2 * s.rng.IntN(len(ranges)/2)
	return ranges[i] + rune(s.rng.IntN(int(ranges[i+1]-ranges[i]+1)))
}
