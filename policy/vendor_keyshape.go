package policy

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
)

// A rule that finds a vendor's token after a key naming the vendor
// ("telegram_api_token = …") knows the token's structure: the bot's id, a
// colon, the secret. A value given to such a key that has the structure but
// not the shape (an id of four digits, a secret too long) is not the
// vendor's token but one made up to look like it. Only structures with a
// separator between varying parts are read so: a value of one character
// class (forty hex digits) says nothing of whose it is, and the rule set's
// lengths may be narrower than the keys people hold.

// keyShape is a rule's token structure and shape, for the values of keys
// that hold one of its keywords.
type keyShape struct {
	keywords  []string
	structure *regexp.Regexp // the shape with its longer repetitions of any length
	shape     *regexp.Regexp
}

// minFreedRepeat is the shortest repetition the structure lets vary: a
// short one (the two digits of a data centre) is part of the structure.
const minFreedRepeat = 3

// keyShapes are the structures of the rules found after a key.
var keyShapes = sync.OnceValue(func() []keyShape {
	var out []keyShape
	for i := range vendorRules {
		r := &vendorRules[i]
		if r.anchored || len(r.keywords) == 0 {
			continue
		}
		if ks, ok := ruleKeyShape(r); ok {
			out = append(out, ks)
		}
	}
	return out
})

// ruleKeyShape reads the structure of the secret a rule finds after a key,
// if it has a separator between varying parts.
func ruleKeyShape(r *vendorRule) (keyShape, bool) {
	re, err := syntax.Parse(r.regex, syntax.Perl)
	if err != nil {
		return keyShape{}, false
	}
	group := r.secretGroup
	if group == 0 {
		group = 1
	}
	secret := captureGroup(re, group)
	if secret == nil || secret.Op != syntax.OpConcat || !separated(secret.Sub) {
		return keyShape{}, false
	}
	structure := freeRepeats(secret)
	return keyShape{
		keywords:  r.keywords,
		structure: regexp.MustCompile(`^(?:` + structure.String() + `)$`),
		shape:     regexp.MustCompile(`^(?:` + secret.String() + `)$`),
	}, true
}

// captureGroup returns the sub-expression of capture group n.
func captureGroup(re *syntax.Regexp, n int) *syntax.Regexp {
	if re.Op == syntax.OpCapture && re.Cap == n {
		return re.Sub[0]
	}
	for _, sub := range re.Sub {
		if g := captureGroup(sub, n); g != nil {
			return g
		}
	}
	return nil
}

// separated reports a literal between two varying parts of a sequence.
func separated(seq []*syntax.Regexp) bool {
	varied := false
	for i, sub := range seq {
		switch {
		case sub.Op == syntax.OpLiteral && varied && i < len(seq)-1:
			return true
		case sub.Op == syntax.OpRepeat || sub.Op == syntax.OpPlus || sub.Op == syntax.OpStar:
			varied = true
		}
	}
	return false
}

// freeRepeats returns re with its repetitions of minFreedRepeat or more
// allowed any length.
func freeRepeats(re *syntax.Regexp) *syntax.Regexp {
	c := *re
	if c.Op == syntax.OpRepeat && c.Max != 0 && (c.Min >= minFreedRepeat || c.Max >= minFreedRepeat || c.Max < 0) {
		return &syntax.Regexp{Op: syntax.OpPlus, Flags: c.Flags, Sub: []*syntax.Regexp{freeRepeats(c.Sub[0])}}
	}
	c.Sub = make([]*syntax.Regexp, len(re.Sub))
	for i, sub := range re.Sub {
		c.Sub[i] = freeRepeats(sub)
	}
	return &c
}

// keyShapeRejects reports a value of a key naming a vendor (lower-cased)
// that has the structure of the vendor's token but not its shape.
func keyShapeRejects(key, v string) bool {
	for _, ks := range keyShapes() {
		named := false
		for _, kw := range ks.keywords {
			if strings.Contains(key, kw) {
				named = true
				break
			}
		}
		if named && ks.structure.MatchString(v) && !ks.shape.MatchString(v) {
			return true
		}
	}
	return false
}
