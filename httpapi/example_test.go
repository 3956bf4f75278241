package httpapi_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/httpapi"
)

// The API mounted under /api/ behind the application's own authentication,
// here bearer tokens of a session table.
func Example() {
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()
	sessions := map[string]string{"token-of-bob": "bob", "token-of-dave": "dave"}

	api := httpapi.New(inboxes, httpapi.Options{
		User: func(r *http.Request) (string, error) {
			token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if user, ok := sessions[token]; ok {
				return user, nil
			}
			return "", errors.New("no session")
		},
	})
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", api))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	call := func(token, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	status, _ := call("token-of-bob", "POST", "/api/conversations/dave/messages", `{"text": "Hi Dave"}`)
	fmt.Println(status)
	fmt.Println(call("token-of-dave", "GET", "/api/inbox", ""))
	fmt.Println(call("token-of-dave", "GET", "/api/conversations/erin/messages", ""))
	fmt.Println(call("stolen", "GET", "/api/inbox", ""))
	// Output:
	// 201
	// 200 {"username":"dave","new_messages_count":1}
	// 404 {"error":"messaging: get conversation \"dave\"/\"erin\": not found","code":"not_found"}
	// 401 {"error":"messaging: unauthorized: the request does not say who is asking","code":"unauthorized"}
}
