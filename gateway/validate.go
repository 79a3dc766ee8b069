package gateway

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// newValidator builds the one validator instance of a Service. Every custom
// rule is registered here, before first use, as the library requires.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	// ident: printable, no surrounding whitespace (ids feed hashes and URIs),
	// and not "." or "..", which a backend URL would read as path syntax.
	_ = v.RegisterValidation("ident", func(fl validator.FieldLevel) bool {
		s := fl.Field().String()
		if s == "" {
			return true
		}
		if strings.TrimSpace(s) != s || s == "." || s == ".." || !utf8.ValidString(s) {
			return false
		}
		for _, r := range s {
			if unicode.IsControl(r) {
				return false
			}
		}
		return true
	})
	// namespace: "/"-separated segments, none empty, "." or "..", no
	// whitespace or controls: "support/../billing" is not under "support".
	_ = v.RegisterValidation("namespace", func(fl validator.FieldLevel) bool {
		s := fl.Field().String()
		if s == "" {
			return true
		}
		if !utf8.ValidString(s) {
			return false
		}
		for seg := range strings.SplitSeq(s, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return false
			}
			for _, r := range seg {
				if unicode.IsSpace(r) || unicode.IsControl(r) {
					return false
				}
			}
		}
		return true
	})
	// backend: a backend name, lowercase letters, digits, '_' or '-'. The
	// set is open (whatever adapters are configured); a name that is not
	// configured selects nothing.
	_ = v.RegisterValidation("backend", func(fl validator.FieldLevel) bool {
		s := fl.Field().String()
		if s == "" || len(s) > maxBackendName {
			return false
		}
		for _, r := range s {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' && r != '-' {
				return false
			}
		}
		return true
	})
	// text: what both stores hold unchanged — valid UTF-8, no NUL bytes.
	_ = v.RegisterValidation("text", func(fl validator.FieldLevel) bool {
		return storable(fl.Field().String())
	})
	return v
}

// storable reports whether text is held unchanged by both stores: valid
// UTF-8 (PostgreSQL refuses anything else, SQLite keeps it as it is) and no
// NUL byte (PostgreSQL's text cannot hold one).
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// checkMetadataText refuses metadata whose keys or strings (at any depth)
// the stores cannot hold, naming the offending entry.
func checkMetadataText(field string, v any) error {
	switch t := v.(type) {
	case map[string]any:
		for k, item := range t {
			path := field + "." + k
			if !storable(k) {
				return NewInputError(field, "has a key with a NUL byte or invalid UTF-8")
			}
			if err := checkMetadataText(path, item); err != nil {
				return err
			}
		}
	case []any:
		for i, item := range t {
			if err := checkMetadataText(fmt.Sprintf("%s[%d]", field, i), item); err != nil {
				return err
			}
		}
	case string:
		if !storable(t) {
			return NewInputError(field, textRule)
		}
	}
	return nil
}

// checkConfigured refuses a backend a request names that is not configured
// here, naming the field and what is.
func (s *core) checkConfigured(field string, backends []backendtype.Backend) error {
	for i, b := range backends {
		if _, ok := s.byName[b]; !ok {
			names := make([]string, len(s.backends))
			for j, a := range s.backends {
				names[j] = string(a.Name())
			}
			return NewInputError(fmt.Sprintf("%s[%d]", field, i), "is not a configured backend (configured: "+strings.Join(names, ", ")+")")
		}
	}
	return nil
}

// maxBackendName bounds a backend name.
const maxBackendName = 64

// checkText is the one check of a free text: the stores must hold it (see
// storable) and it must not exceed max bytes.
func checkText(field, text string, max int) error {
	if !storable(text) {
		return NewInputError(field, textRule)
	}
	if len(text) > max {
		return NewInputError(field, fmt.Sprintf("must be at most %d bytes (got %d)", max, len(text)))
	}
	return nil
}

// textRule is how a text the stores cannot hold is refused.
const textRule = "must be valid UTF-8 without NUL bytes"

// validateStruct runs the validator and turns the first failure into an
// *InputError naming the field by its API path.
func (s *Service) validateStruct(v any) error {
	err := s.validate.Struct(v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) || len(verrs) == 0 {
		return fmt.Errorf("error validating input: %w", err)
	}
	fe := verrs[0]
	field := fe.Namespace()
	if _, rest, found := strings.Cut(field, "."); found {
		field = rest // drop the Go struct name
	}
	return NewInputError(field, describeRule(fe))
}

func describeRule(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required (and must not be blank)"
	case "max":
		return "must be at most " + fe.Param() + " characters"
	case "min":
		return "must be at least " + fe.Param()
	case "oneof":
		return "must be one of: " + fe.Param()
	case "backend":
		return "must be a backend name"
	case "ident":
		return "must not contain control characters or surrounding whitespace, and must not be '.' or '..'"
	case "namespace":
		return "must be '/'-separated segments without whitespace, empty, '.' or '..' segments"
	case "text":
		return textRule
	case "gte", "lte", "gt", "lt":
		return "must be " + map[string]string{"gte": ">=", "lte": "<=", "gt": ">", "lt": "<"}[fe.Tag()] + " " + fe.Param()
	default:
		return "is invalid (" + fe.Tag() + ")"
	}
}

// normalizeNamespace trims whitespace and slashes at both ends, as the
// reference service does.
func normalizeNamespace(ns string) string {
	return strings.TrimFunc(ns, func(r rune) bool { return r == '/' || unicode.IsSpace(r) })
}
