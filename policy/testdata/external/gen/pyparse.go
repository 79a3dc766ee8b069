package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The Python test tables of detect-secrets and Presidio are read with a
// small tokenizer and expression parser: enough for the literals, tuples,
// lists, string concatenation and str.format calls those tables are written
// in. Anything else (comprehensions, function calls) parses into an opaque
// node whose evaluation fails, and the case is skipped.

type pyTokKind int

const (
	pyName pyTokKind = iota
	pyNumber
	pyStr
	pyOp
	pyEOF
)

type pyTok struct {
	kind      pyTokKind
	text      string // the name, number or operator; the decoded string
	line, col int
	endLine   int
	err       error // a string literal that could not be decoded (f-strings, bytes)
}

type pyComment struct {
	line int
	text string
}

func pyTokenize(src string) ([]pyTok, []pyComment, error) {
	var toks []pyTok
	var comments []pyComment
	line, col := 1, 0
	i := 0
	advance := func(n int) {
		for _, r := range src[i : i+n] {
			if r == '\n' {
				line++
				col = 0
			} else {
				col++
			}
		}
		i += n
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n' || c == ' ' || c == '\t' || c == '\r' || c == '\f':
			advance(1)
		case c == '\\' && i+1 < len(src) && src[i+1] == '\n':
			advance(2)
		case c == '#':
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			comments = append(comments, pyComment{line: line, text: strings.TrimSpace(src[i+1 : i+end])})
			advance(end)
		case isPyNameStart(c):
			j := i
			for j < len(src) && (isPyNameStart(src[j]) || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			if j < len(src) && (src[j] == '\'' || src[j] == '"') && j-i <= 2 && strings.Trim(strings.ToLower(src[i:j]), "rubf") == "" {
				tok, n := pyString(src[i:], src[i:j])
				tok.line, tok.col = line, col
				advance(n)
				tok.endLine = line
				toks = append(toks, tok)
				continue
			}
			toks = append(toks, pyTok{kind: pyName, text: src[i:j], line: line, col: col, endLine: line})
			advance(j - i)
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.' || src[j] == '_' || src[j] == 'x' || src[j] == 'e') {
				j++
			}
			toks = append(toks, pyTok{kind: pyNumber, text: src[i:j], line: line, col: col, endLine: line})
			advance(j - i)
		case c == '\'' || c == '"':
			tok, n := pyString(src[i:], "")
			tok.line, tok.col = line, col
			advance(n)
			tok.endLine = line
			toks = append(toks, tok)
		default:
			n := 1
			for _, op := range []string{"**", "==", "!=", "<=", ">=", "->", ":=", "//"} {
				if strings.HasPrefix(src[i:], op) {
					n = 2
				}
			}
			toks = append(toks, pyTok{kind: pyOp, text: src[i : i+n], line: line, col: col, endLine: line})
			advance(n)
		}
	}
	toks = append(toks, pyTok{kind: pyEOF, line: line, endLine: line})
	return toks, comments, nil
}

func isPyNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// pyString reads the string literal at the start of s (after a prefix of
// the given length) and returns its token and length.
func pyString(s, prefix string) (pyTok, int) {
	p := strings.ToLower(prefix)
	raw := strings.Contains(p, "r")
	i := len(prefix)
	quote := s[i : i+1]
	if strings.HasPrefix(s[i:], strings.Repeat(quote, 3)) {
		quote = strings.Repeat(quote, 3)
	}
	i += len(quote)
	start := i
	for i < len(s) && !strings.HasPrefix(s[i:], quote) {
		if s[i] == '\\' {
			i++
		}
		i++
	}
	body := s[start:min(i, len(s))]
	n := min(i+len(quote), len(s))
	tok := pyTok{kind: pyStr}
	switch {
	case strings.Contains(p, "f"):
		tok.err = fmt.Errorf("f-string")
	case strings.Contains(p, "b"):
		tok.err = fmt.Errorf("bytes literal")
	case raw:
		tok.text = body
	default:
		tok.text, tok.err = pyUnescape(body)
	}
	return tok, n
}

func pyUnescape(s string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			sb.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; c {
		case '\n':
		case '\\', '\'', '"':
			sb.WriteByte(c)
		case 'n':
			sb.WriteByte('\n')
		case 't':
			sb.WriteByte('\t')
		case 'r':
			sb.WriteByte('\r')
		case 'a':
			sb.WriteByte('\a')
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'v':
			sb.WriteByte('\v')
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
			if i+n >= len(s) {
				return "", fmt.Errorf("short \\%c escape", c)
			}
			v, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
			if err != nil {
				return "", err
			}
			sb.WriteRune(rune(v))
			i += n
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 32)
			sb.WriteRune(rune(v))
			i = j - 1
		default:
			sb.WriteByte('\\')
			sb.WriteByte(c)
		}
	}
	return sb.String(), nil
}

// pyNode is a parsed expression.
type pyNode struct {
	kind    string // str, num, name, tuple, list, call, attr, binop, opaque
	text    string // str value, number, name, attribute name, operator
	err     error
	elems   []*pyNode // tuple and list elements; call arguments
	kwargs  map[string]*pyNode
	x, y    *pyNode // attr and call target; binop operands
	endLine int
}

type pyParser struct {
	toks []pyTok
	pos  int
}

func (p *pyParser) peek() pyTok { return p.toks[p.pos] }

func (p *pyParser) next() pyTok {
	t := p.toks[p.pos]
	if t.kind != pyEOF {
		p.pos++
	}
	return t
}

func (p *pyParser) isOp(s string) bool { t := p.peek(); return t.kind == pyOp && t.text == s }

// element parses one element of a comma-separated list ending in close;
// anything past a plain expression (a comprehension, a comparison) makes
// the element opaque.
func (p *pyParser) element(close string) *pyNode {
	n := p.expr()
	if !p.isOp(",") && !p.isOp(close) && p.peek().kind != pyEOF {
		n = &pyNode{kind: "opaque"}
		p.skipTo(close)
	}
	return n
}

// skipTo advances to the next "," or close at the current nesting depth.
func (p *pyParser) skipTo(close string) {
	depth := 0
	for p.peek().kind != pyEOF {
		t := p.peek()
		if t.kind == pyOp {
			switch t.text {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth == 0 {
					return
				}
				depth--
			case ",":
				if depth == 0 {
					return
				}
			}
		}
		p.next()
	}
}

func (p *pyParser) expr() *pyNode {
	n := p.term()
	for p.isOp("+") || p.isOp("-") {
		op := p.next().text
		n = &pyNode{kind: "binop", text: op, x: n, y: p.term()}
		n.endLine = n.y.endLine
	}
	return n
}

func (p *pyParser) term() *pyNode {
	n := p.postfix()
	for p.isOp("*") || p.isOp("%") || p.isOp("/") {
		op := p.next().text
		n = &pyNode{kind: "binop", text: op, x: n, y: p.postfix()}
		n.endLine = n.y.endLine
	}
	return n
}

func (p *pyParser) postfix() *pyNode {
	n := p.atom()
	for {
		switch {
		case p.isOp("."):
			p.next()
			name := p.next()
			n = &pyNode{kind: "attr", text: name.text, x: n, endLine: name.endLine}
		case p.isOp("("):
			p.next()
			call := &pyNode{kind: "call", x: n, kwargs: map[string]*pyNode{}}
			for !p.isOp(")") && p.peek().kind != pyEOF {
				if t := p.peek(); t.kind == pyName && p.toks[p.pos+1].kind == pyOp && p.toks[p.pos+1].text == "=" {
					p.next()
					p.next()
					call.kwargs[t.text] = p.element(")")
				} else {
					call.elems = append(call.elems, p.element(")"))
				}
				if p.isOp(",") {
					p.next()
				}
			}
			call.endLine = p.next().endLine
			n = call
		case p.isOp("["):
			p.next()
			p.skipTo("]")
			end := p.next()
			n = &pyNode{kind: "opaque", endLine: end.endLine}
		default:
			return n
		}
	}
}

func (p *pyParser) atom() *pyNode {
	t := p.next()
	switch t.kind {
	case pyStr:
		n := &pyNode{kind: "str", text: t.text, err: t.err, endLine: t.endLine}
		for p.peek().kind == pyStr { // implicit concatenation
			u := p.next()
			n.text += u.text
			if n.err == nil {
				n.err = u.err
			}
			n.endLine = u.endLine
		}
		return n
	case pyNumber:
		return &pyNode{kind: "num", text: t.text, endLine: t.endLine}
	case pyName:
		return &pyNode{kind: "name", text: t.text, endLine: t.endLine}
	case pyOp:
		switch t.text {
		case "-":
			n := p.postfix()
			return &pyNode{kind: "binop", text: "-", x: &pyNode{kind: "num", text: "0"}, y: n, endLine: n.endLine}
		case "(", "[":
			close := map[string]string{"(": ")", "[": "]"}[t.text]
			n := &pyNode{kind: map[string]string{"(": "tuple", "[": "list"}[t.text]}
			trailingComma := false
			for !p.isOp(close) && p.peek().kind != pyEOF {
				n.elems = append(n.elems, p.element(close))
				trailingComma = false
				if p.isOp(",") {
					p.next()
					trailingComma = true
				}
			}
			n.endLine = p.next().endLine
			if t.text == "(" && len(n.elems) == 1 && !trailingComma {
				inner := n.elems[0]
				inner.endLine = n.endLine
				return inner // a parenthesised expression
			}
			return n
		case "{":
			p.skipTo("}")
			end := p.next()
			return &pyNode{kind: "opaque", endLine: end.endLine}
		}
	}
	return &pyNode{kind: "opaque", endLine: t.endLine}
}

// pyModule is a parsed test file: its top-level constants and its
// pytest.mark.parametrize tables.
type pyModule struct {
	consts   map[string]*pyNode
	tables   []pyTable
	comments map[int]string // by line
}

// pyTable is one parametrize decorator: its column names and rows.
type pyTable struct {
	names []string
	rows  []*pyNode
	line  int
}

func parsePyModule(src string) (*pyModule, error) {
	toks, comments, err := pyTokenize(src)
	if err != nil {
		return nil, err
	}
	m := &pyModule{consts: map[string]*pyNode{}, comments: map[int]string{}}
	for _, c := range comments {
		m.comments[c.line] = c.text
	}
	p := &pyParser{toks: toks}
	for p.peek().kind != pyEOF {
		t := p.next()
		switch {
		case t.kind == pyName && t.col == 0 && p.isOp("="):
			p.next()
			m.consts[t.text] = p.expr()
		case t.kind == pyName && t.text == "parametrize" && p.isOp("("):
			p.next()
			header := p.expr()
			if header.kind != "str" || !p.isOp(",") {
				continue
			}
			p.next()
			rows := p.expr()
			if rows.kind != "list" && rows.kind != "tuple" {
				continue
			}
			var names []string
			for _, n := range strings.Split(header.text, ",") {
				names = append(names, strings.TrimSpace(n))
			}
			m.tables = append(m.tables, pyTable{names: names, rows: rows.elems, line: t.line})
		}
	}
	return m, nil
}

// comment is the comment on the line where a row ends, if any.
func (m *pyModule) comment(n *pyNode) string { return m.comments[n.endLine] }

// pyValue is an evaluated expression: a string, a number, None, a boolean,
// or a sequence.
type pyValue struct {
	kind  string // str, num, none, bool, seq
	s     string
	n     float64
	b     bool
	elems []pyValue
}

func (m *pyModule) eval(n *pyNode) (pyValue, error) {
	return m.evalDepth(n, 0)
}

func (m *pyModule) evalDepth(n *pyNode, depth int) (pyValue, error) {
	if depth > 50 {
		return pyValue{}, fmt.Errorf("too deep")
	}
	switch n.kind {
	case "str":
		return pyValue{kind: "str", s: n.text}, n.err
	case "num":
		v, err := strconv.ParseFloat(strings.ReplaceAll(n.text, "_", ""), 64)
		return pyValue{kind: "num", n: v}, err
	case "name":
		switch n.text {
		case "None":
			return pyValue{kind: "none"}, nil
		case "True", "False":
			return pyValue{kind: "bool", b: n.text == "True"}, nil
		}
		if c, ok := m.consts[n.text]; ok {
			return m.evalDepth(c, depth+1)
		}
		return pyValue{}, fmt.Errorf("unknown name %s", n.text)
	case "tuple", "list":
		v := pyValue{kind: "seq"}
		for _, e := range n.elems {
			x, err := m.evalDepth(e, depth+1)
			if err != nil {
				return pyValue{}, err
			}
			v.elems = append(v.elems, x)
		}
		return v, nil
	case "binop":
		a, err := m.evalDepth(n.x, depth+1)
		if err != nil {
			return pyValue{}, err
		}
		b, err := m.evalDepth(n.y, depth+1)
		if err != nil {
			return pyValue{}, err
		}
		switch {
		case n.text == "+" && a.kind == "str" && b.kind == "str":
			return pyValue{kind: "str", s: a.s + b.s}, nil
		case n.text == "+" && a.kind == "seq" && b.kind == "seq":
			return pyValue{kind: "seq", elems: append(append([]pyValue{}, a.elems...), b.elems...)}, nil
		case n.text == "*" && a.kind == "str" && b.kind == "num":
			return pyValue{kind: "str", s: strings.Repeat(a.s, int(b.n))}, nil
		case n.text == "-" && a.kind == "num" && b.kind == "num":
			return pyValue{kind: "num", n: a.n - b.n}, nil
		}
		return pyValue{}, fmt.Errorf("operator %s on %s and %s", n.text, a.kind, b.kind)
	case "call":
		if n.x.kind == "attr" && n.x.text == "format" {
			recv, err := m.evalDepth(n.x.x, depth+1)
			if err != nil {
				return pyValue{}, err
			}
			if recv.kind != "str" {
				return pyValue{}, fmt.Errorf("format on %s", recv.kind)
			}
			var args []string
			for _, a := range n.elems {
				v, err := m.evalDepth(a, depth+1)
				if err != nil || v.kind != "str" {
					return pyValue{}, fmt.Errorf("format argument")
				}
				args = append(args, v.s)
			}
			kw := map[string]string{}
			for k, a := range n.kwargs {
				v, err := m.evalDepth(a, depth+1)
				if err != nil || v.kind != "str" {
					return pyValue{}, fmt.Errorf("format argument")
				}
				kw[k] = v.s
			}
			s, err := pyFormat(recv.s, args, kw)
			return pyValue{kind: "str", s: s}, err
		}
	}
	return pyValue{}, fmt.Errorf("unsupported %s expression", n.kind)
}

// pyFormat implements str.format for plain {} and {name} fields.
func pyFormat(f string, args []string, kw map[string]string) (string, error) {
	var sb strings.Builder
	auto := 0
	for i := 0; i < len(f); {
		switch {
		case strings.HasPrefix(f[i:], "{{"):
			sb.WriteByte('{')
			i += 2
		case strings.HasPrefix(f[i:], "}}"):
			sb.WriteByte('}')
			i += 2
		case f[i] == '{':
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("unclosed field")
			}
			field := f[i+1 : i+end]
			switch {
			case field == "":
				if auto >= len(args) {
					return "", fmt.Errorf("too few arguments")
				}
				sb.WriteString(args[auto])
				auto++
			case field[0] >= '0' && field[0] <= '9':
				k, err := strconv.Atoi(field)
				if err != nil || k >= len(args) {
					return "", fmt.Errorf("field %s", field)
				}
				sb.WriteString(args[k])
			default:
				v, ok := kw[field]
				if !ok {
					return "", fmt.Errorf("field %s", field)
				}
				sb.WriteString(v)
			}
			i += end + 1
		default:
			_, size := utf8.DecodeRuneInString(f[i:])
			sb.WriteString(f[i : i+size])
			i += size
		}
	}
	return sb.String(), nil
}

// runeSlice returns s[start:end] counted in code points, as Python indexes
// strings.
func runeSlice(s string, start, end int) (string, bool) {
	r := []rune(s)
	if start < 0 || end > len(r) || start > end {
		return "", false
	}
	return string(r[start:end]), true
}
