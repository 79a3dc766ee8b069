package persistence

import (
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun/schema"
)

// PostgreSQL array literals for the batched statements (unnest of one array
// per column). bun's pgdialect.Array writes the same literals through
// reflection, one rune at a time, and cannot say how long they will be;
// formatting the worker's completion batches that way was a tenth of its Go
// CPU per event. These write each element with one copy when it holds
// nothing to escape, which is nearly always (ids, statuses, timestamps), and
// know their length, so formatBatch sizes the statement once.
//
// The literal is a standard SQL string ('…', standard_conforming_strings:
// only ' is doubled) holding an array value ({…}: elements in double quotes,
// " and \ escaped with \, NULL bare). A NUL cannot be stored in text and is
// dropped, as bun drops it.

// formatBatch formats a batch statement into one buffer sized for its
// arrays up front. bun grows its buffer as it writes, and a batch of a few
// thousand rows is megabytes, copied again at every growth: half of the
// formatting time (BenchmarkRefBatchFormat), and garbage for the collector. What it returns holds no
// placeholder: run it with no arguments, and bun passes it on as it is
// (query hooks and statement counts included).
func formatBatch(d schema.Dialect, query string, args ...any) string {
	n := len(query)
	for _, a := range args {
		if s, ok := a.(arrayLiteral); ok {
			n += s.literalLen()
		} else {
			n += otherArgLen
		}
	}
	return string(schema.NewQueryGen(d).AppendQuery(make([]byte, 0, n), query, args...))
}

// otherArgLen is what formatBatch reserves for an argument that is not an
// array: a timestamp, a number, a short string.
const otherArgLen = 40

// arrayLiteral is an array that knows about how long its literal is.
type arrayLiteral interface {
	literalLen() int
}

// textArray is a text[] of strings; nil is SQL NULL.
type textArray []string

// nullableTextArray is a text[] whose nil elements are NULL.
type nullableTextArray []*string

// timeArray is a timestamptz[] (microseconds, UTC).
type timeArray []time.Time

// nullableTimeArray is a timestamptz[] whose nil elements are NULL.
type nullableTimeArray []*time.Time

// intArray is an int[].
type intArray []int

var (
	_ schema.QueryAppender = textArray(nil)
	_ schema.QueryAppender = nullableTextArray(nil)
	_ schema.QueryAppender = timeArray(nil)
	_ schema.QueryAppender = nullableTimeArray(nil)
	_ schema.QueryAppender = intArray(nil)
)

func (a textArray) AppendQuery(_ schema.QueryGen, b []byte) ([]byte, error) {
	return appendLiteral(b, a, appendTextElem), nil
}

func (a nullableTextArray) AppendQuery(_ schema.QueryGen, b []byte) ([]byte, error) {
	return appendLiteral(b, a, orNull(appendTextElem)), nil
}

// arrayParam is an array bound to a prepared statement's parameter: its
// array value as text ({…}, no SQL string quotes around it), or nil for
// NULL.
type arrayParam interface {
	param() any
}

var (
	_ arrayParam = textArray(nil)
	_ arrayParam = nullableTextArray(nil)
	_ arrayParam = timeArray(nil)
	_ arrayParam = nullableTimeArray(nil)
	_ arrayParam = intArray(nil)
)

func (a textArray) param() any { return arrayValue(a, a.literalLen(), appendTextParamElem) }

func (a nullableTextArray) param() any {
	return arrayValue(a, a.literalLen(), orNull(appendTextParamElem))
}

func (a timeArray) param() any { return arrayValue(a, a.literalLen(), appendTimeElem) }

func (a nullableTimeArray) param() any {
	return arrayValue(a, a.literalLen(), orNull(appendTimeElem))
}

func (a intArray) param() any { return arrayValue(a, a.literalLen(), appendIntElem) }

// arrayValue is a's array value, {e0,e1,…}, or nil (NULL) for a nil a.
func arrayValue[T any](a []T, size int, elem func([]byte, T) []byte) any {
	if a == nil {
		return nil
	}
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, v := range a {
		if i > 0 {
			b = append(b, ',')
		}
		b = elem(b, v)
	}
	return string(append(b, '}'))
}

func (a timeArray) AppendQuery(_ schema.QueryGen, b []byte) ([]byte, error) {
	return appendLiteral(b, a, appendTimeElem), nil
}

func (a nullableTimeArray) AppendQuery(_ schema.QueryGen, b []byte) ([]byte, error) {
	return appendLiteral(b, a, orNull(appendTimeElem)), nil
}

func (a intArray) AppendQuery(_ schema.QueryGen, b []byte) ([]byte, error) {
	return appendLiteral(b, a, appendIntElem), nil
}

func appendIntElem(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

// Literal lengths: quotes and braces, then each element with its quotes
// and comma (escapes aside, which are rare).
const (
	arrayFrame   = len("'{}'")
	elemFrame    = len(`"",`)
	nullElemLen  = len("NULL,")
	timeElemLen  = len(`"2006-01-02 15:04:05.999999+00:00",`)
	int64ElemLen = len("-9223372036854775808,")
)

func (a textArray) literalLen() int {
	n := arrayFrame
	for _, s := range a {
		n += len(s) + elemFrame
	}
	return n
}

func (a nullableTextArray) literalLen() int {
	n := arrayFrame
	for _, s := range a {
		if s == nil {
			n += nullElemLen
		} else {
			n += len(*s) + elemFrame
		}
	}
	return n
}

func (a timeArray) literalLen() int         { return arrayFrame + len(a)*timeElemLen }
func (a nullableTimeArray) literalLen() int { return arrayFrame + len(a)*timeElemLen }
func (a intArray) literalLen() int          { return arrayFrame + len(a)*int64ElemLen }

// appendLiteral writes '{e0,e1,…}' (NULL for a nil slice), each element
// by elem.
func appendLiteral[T any](b []byte, a []T, elem func([]byte, T) []byte) []byte {
	if a == nil {
		return append(b, "NULL"...)
	}
	b = append(b, '\'', '{')
	for i, v := range a {
		if i > 0 {
			b = append(b, ',')
		}
		b = elem(b, v)
	}
	return append(b, '}', '\'')
}

// orNull writes a nil element as NULL, others by elem.
func orNull[T any](elem func([]byte, T) []byte) func([]byte, *T) []byte {
	return func(b []byte, v *T) []byte {
		if v == nil {
			return append(b, "NULL"...)
		}
		return elem(b, *v)
	}
}

// arrayElemSpecials are the bytes an element cannot hold as they are.
const arrayElemSpecials = "'\"\\\x00"

// appendTextElem writes s as a quoted array element of a literal.
func appendTextElem(b []byte, s string) []byte { return appendQuotedElem(b, s, true) }

// appendTextParamElem writes s as a quoted array element of a parameter.
func appendTextParamElem(b []byte, s string) []byte { return appendQuotedElem(b, s, false) }

// appendQuotedElem writes s as a quoted array element, doubling ' when the
// array is written inside a SQL string.
func appendQuotedElem(b []byte, s string, inSQLString bool) []byte {
	b = append(b, '"')
	for {
		i := strings.IndexAny(s, arrayElemSpecials)
		if i < 0 {
			b = append(b, s...)
			break
		}
		b = append(b, s[:i]...)
		switch s[i] {
		case '\'':
			if inSQLString {
				b = append(b, '\'')
			}
			b = append(b, '\'')
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		}
		s = s[i+1:]
	}
	return append(b, '"')
}

// pgArrayTimeLayout is how bun writes a timestamp: microseconds, offset.
const pgArrayTimeLayout = "2006-01-02 15:04:05.999999-07:00"

func appendTimeElem(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, pgArrayTimeLayout)
	return append(b, '"')
}
