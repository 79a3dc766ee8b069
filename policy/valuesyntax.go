package policy

// An unquoted value ends where the syntax it is written in ends it — not
// at the first & , or ; (which left "DB_PASSWORD=[REDACTED:password]&904").
// The syntax is read from what stands before the key.

// valueSyntax is the syntax of an unquoted value.
type valueSyntax int

const (
	// syntaxPlain: env files, shells, YAML blocks, flags, sentences. The
	// value runs to a space; ; and & end it only where another key=value
	// follows (a connection string or query written from its start).
	syntaxPlain valueSyntax = iota
	// syntaxQuery: ?key=value&next=… — also & and #.
	syntaxQuery
	// syntaxConnection: Server=db;Password=value;… — also ;.
	syntaxConnection
	// syntaxFlow: JSON and YAML flow mappings, {key: value, …} — also ,.
	syntaxFlow
)

// syntaxAround reads the syntax of a key's value from what precedes the
// key: ? or & a query, ; a connection string, { or , or a quoted key a
// flow mapping.
func (s *scan) syntaxAround(k secretKey) valueSyntax {
	t := s.text
	i := k.start
	quoted := i > 0 && isQuote(t[i-1])
	if quoted {
		i--
	}
	if i > 0 {
		switch t[i-1] {
		case '?', '&':
			return syntaxQuery
		case ';':
			return syntaxConnection
		}
	}
	j := i
	for j > 0 && (t[j-1] == ' ' || t[j-1] == '\t') {
		j--
	}
	if quoted || j > 0 && (t[j-1] == '{' || t[j-1] == ',') {
		return syntaxFlow
	}
	return syntaxPlain
}

// unquotedEnd returns where an unquoted value starting at q ends, without
// the punctuation that ends a sentence around it.
func (s *scan) unquotedEnd(q int, syntax valueSyntax) int {
	e := q
	for e < len(s.text) && e-q < maxKeywordWindow && !s.valueEndsAt(e, syntax) {
		e++
	}
	for e > q && isSentencePunct(s.text[e-1]) {
		e--
	}
	return e
}

// valueEndsAt reports whether the byte at i ends an unquoted value.
func (s *scan) valueEndsAt(i int, syntax valueSyntax) bool {
	switch c := s.text[i]; c {
	case ' ', '\t', '\n', '\r', '"', '\'', '`', '<', '>', '[', '(':
		return true
	case ')', ']', '}':
		return !s.wordAfter(i + 1) // closes what the value stands in
	case '&':
		return syntax == syntaxQuery || s.pairFollows(i+1)
	case '#':
		return syntax == syntaxQuery
	case ';':
		return syntax == syntaxConnection || s.pairFollows(i+1)
	case ',':
		return syntax == syntaxFlow
	}
	return false
}

// isSentencePunct: what may end a sentence after a value ("my password is
// x." "DB_PASSWORD=x, then …"); an exclamation mark stays with the value.
func isSentencePunct(c byte) bool { return c == '.' || c == ',' || c == ';' || c == ':' || c == '?' }

// pairFollows reports another key=value at i ("&next=", ";Database=",
// ";User Id="): a key of letters, digits, _ . - and inner spaces, then =.
func (s *scan) pairFollows(i int) bool {
	t := s.text
	j := i
	for j < len(t) && j-i < 40 && (isKeyChar(t[j]) || t[j] == ' ' && j > i) {
		j++
	}
	return j > i && j < len(t) && t[j] == '=' && t[j-1] != ' '
}
