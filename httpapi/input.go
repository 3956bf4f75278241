package httpapi

// Input: the JSON content type, bounded request bodies decoded strictly,
// and the path and query parameters.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/socialkit/messaging"
)

// jsonContentType reports whether a Content-Type header says JSON:
// application/json, with no charset or charset=utf-8. HTML forms cannot
// send it, which is what keeps a cross-site form from posting here.
func jsonContentType(header string) bool {
	mt, params, err := mime.ParseMediaType(header)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// Body limits. JSON may write any character as a \u escape: an ASCII byte
// then takes 6 bytes (\u0041), a 2- or 3-byte character 6, a 4-byte one 12
// (a surrogate pair). So a string of n bytes takes at most 6n bytes plus
// its quotes, and a message whose text, metadata and key are within the
// library's limits, written with any escaping, takes at most
// 6 × (MaxMessageBytes + MaxMetaBytes + MaxIdempotencyKeyBytes), plus 6
// bytes of quotes, colon and comma per metadata entry, plus bodySlack for
// the field names, braces and white space between them. A body over that
// cannot hold a valid message and is refused with 413 before it is read
// further; a text over MaxMessageBytes in a body under it is the library's
// 400 message_too_long.
const (
	bodySlack      = 4 << 10
	smallBodyLimit = 4 << 10 // the bodies of the other routes: {} or {"up_to": N}
)

func sendBodyLimit(maxMessageBytes int) int64 {
	raw := int64(maxMessageBytes) + messaging.MaxMetaBytes + messaging.MaxIdempotencyKeyBytes
	return 6*raw + 6*messaging.MaxMetaEntries + bodySlack
}

// decodeBody reads a body of at most limit bytes into dst. An empty body
// is {}. Anything but one JSON object is 400 bad_json; a key that is not
// one of fields, exactly as spelled (encoding/json alone would take "Text"
// for "text"), is 400 unknown_field naming it; a body over limit is 413.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, dst any, fields ...string) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return newError(http.StatusRequestEntityTooLarge, "body_too_large", "",
			fmt.Sprintf("request body is over %d bytes", limit))
	case err != nil:
		return err // the client went away
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil || keys == nil {
		return newError(http.StatusBadRequest, "bad_json", "body", "request body is not a JSON object")
	}
	for k := range keys {
		if !slices.Contains(fields, k) {
			return newError(http.StatusBadRequest, "unknown_field", k, fmt.Sprintf("unknown field %q in request body", k))
		}
	}
	if err := json.Unmarshal(body, dst); err != nil {
		field := "body"
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			field = te.Field
		}
		return newError(http.StatusBadRequest, "bad_json", field, fmt.Sprintf("request body field %q has the wrong type", field))
	}
	return nil
}

// other is the other user of the path, unescaped once by the ServeMux
// (%2F is a slash in the id, %25 a percent sign). The library validates it
// (400 invalid_user, field "other").
func other(r *http.Request) string { return r.PathValue("other") }

// positiveID parses a message ID: a decimal number from 1.
func positiveID(field, s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, badParameter(field, "must be a message ID (a decimal number from 1)")
	}
	return id, nil
}

// queryID parses an optional message ID in the query; absent or empty is 0.
func queryID(r *http.Request, field string) (uint64, error) {
	s := r.URL.Query().Get(field)
	if s == "" {
		return 0, nil
	}
	return positiveID(field, s)
}

// queryLimit parses the optional limit; absent is 0, the library's
// default page size; more than messaging.MaxPageSize is cut to it.
func queryLimit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badParameter("limit", "must be a number from 0")
	}
	return n, nil
}

func badParameter(field, why string) error {
	return newError(http.StatusBadRequest, "bad_parameter", field, field+" "+why)
}
