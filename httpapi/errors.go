package httpapi

import (
	"net/http"

	"github.com/memory-gateway/memory-gateway/apierror"
)

// Codes of requests refused by the HTTP layer before any domain code runs
// (the domain's codes are apierror's).
const (
	codeBadRequest           = "BAD_REQUEST"
	codeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	codeMethodNotAllowed     = "METHOD_NOT_ALLOWED"
)

// writeError answers with a coded error in the envelope of every error the
// API answers (apierror.WriteHTTP); field names the input at fault, "" none.
func writeError(w http.ResponseWriter, status int, message, code, field string) {
	apierror.WriteHTTP(w, status, apierror.Error{Code: code, Message: message, Field: field})
}
