package apierror

import (
	"encoding/json"
	"net/http"
)

// WriteHTTP answers an HTTP request with e, in the one envelope every HTTP
// answer of an error has (GraphQL's, so a client reads every edge alike):
// {"errors": [{"message": …, "extensions": {"code": …, "field": …}}]}.
func WriteHTTP(w http.ResponseWriter, status int, e Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": e.Message, "extensions": e.Extensions()}},
	})
}
