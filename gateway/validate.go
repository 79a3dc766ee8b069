package gateway

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode"

	"github.com/go-playground/validator/v10"
)

// Length limits on identifiers and keys.
const (
	maxIDLength        = 128
	maxKeyLength       = 256
	maxNamespaceLength = 512
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
	// ident: printable, no surrounding whitespace (ids feed hashes and URIs).
	_ = v.RegisterValidation("ident", func(fl validator.FieldLevel) bool {
		s := fl.Field().String()
		if s == "" {
			return true
		}
		if strings.TrimSpace(s) != s {
			return false
		}
		for _, r := range s {
			if unicode.IsControl(r) {
				return false
			}
		}
		return true
	})
	// namespace: "/"-separated segments, none empty, no whitespace or controls.
	_ = v.RegisterValidation("namespace", func(fl validator.FieldLevel) bool {
		s := fl.Field().String()
		if s == "" {
			return true
		}
		for seg := range strings.SplitSeq(s, "/") {
			if seg == "" {
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
	return v
}

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
	case "ident":
		return "must not contain control characters or surrounding whitespace"
	case "namespace":
		return "must be '/'-separated segments without whitespace or empty segments"
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
