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
	var open brackets
	for e < len(s.text) && e-q < maxKeywordWindow && !s.valueEndsAt(q, e, syntax, &open) {
		e++
	}
	for e > q && isSentencePunct(s.text[e-1]) {
		e--
	}
	return e
}

// brackets counts the brackets a value opened, so that only a bracket it
// did not open ends it: "m{{h}o)p${e]nob(ody}}" is one value, while in
// "{password: x}" the brace closes the mapping.
type brackets struct{ round, square, curly, angle int }

// closes reports whether c closes a bracket the value opened (and counts
// it closed).
func (b *brackets) closes(c byte) bool {
	var n *int
	switch c {
	case ')':
		n = &b.round
	case ']':
		n = &b.square
	case '}':
		n = &b.curly
	default:
		n = &b.angle
	}
	if *n == 0 {
		return false
	}
	*n--
	return true
}

// valueEndsAt reports whether the byte at i ends an unquoted value that
// started at q. Brackets are characters of the value like any other — a
// password may hold them — except a bracket after an identifier or a
// member path, which is code (a call or an index: cfg[...], read(...),
// os.Getenv(...)), a tag, and a closing bracket the value did not open,
// where nothing of a word follows.
func (s *scan) valueEndsAt(q, i int, syntax valueSyntax, open *brackets) bool {
	switch c := s.text[i]; c {
	case ' ', '\t', '\n', '\r', '"', '\'', '`':
		return true
	case '(', '[':
		if i == q || isIdentifier(s.text[q:i]) || isMemberPath(s.text[q:i]) {
			return true // a call or an index: read(…), cfg[…], jwt.encode(…)
		}
		if c == '(' {
			open.round++
		} else {
			open.square++
		}
		return false
	case '{':
		open.curly++
		return false
	case '<':
		if i+1 < len(s.text) && (s.text[i+1] == '/' || isAlpha(s.text[i+1])) {
			return true // a tag: <password>x</password>, x<br>
		}
		open.angle++
		return false
	case ')', ']', '}', '>':
		return !open.closes(c) && s.closesContext(i)
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

// closesContext reports whether the closing brackets from i on close what
// the value stands in: the run of them is followed by the end of the text,
// a space, a quote or punctuation ("{password: x}", "(pw x),"). Followed by
// anything else they are characters of the value ("finds>-_$#one").
func (s *scan) closesContext(i int) bool {
	t := s.text
	j := i
	for j < len(t) && (t[j] == ')' || t[j] == ']' || t[j] == '}' || t[j] == '>') {
		j++
	}
	if j == len(t) {
		return true
	}
	switch c := t[j]; {
	case c == ' ', c == '\t', c == '\n', c == '\r', isQuote(c), c == '`', c == '&', c == ';', c == ',':
		return true
	default:
		return isSentencePunct(c)
	}
}
